#include "catalog/report.hpp"

#include <nlohmann/json.hpp>

namespace acme::catalog {

std::string RenderLintText(const LintReport& report) {
    std::string out;
    for (const Diagnostic& d : report.diagnostics) {
        out += d.file;
        out += ':';
        out += std::to_string(d.line);
        out += ": ";
        out += SeverityName(d.severity);
        out += " [";
        out += d.rule;
        out += "] ";
        if (!d.key.empty()) {
            out += d.key;
            out += ": ";
        }
        out += d.message;
        out += '\n';
    }
    out += std::to_string(report.resources) + " resources in " + std::to_string(report.files) +
           " files: " + std::to_string(report.errors) + " errors, " +
           std::to_string(report.warnings) + " warnings\n";
    return out;
}

std::string RenderLintJson(const LintReport& report) {
    nlohmann::ordered_json doc;
    doc["summary"] = {{"resources", report.resources},
                      {"files", report.files},
                      {"errors", report.errors},
                      {"warnings", report.warnings},
                      {"infos", report.infos}};
    auto& list = doc["diagnostics"] = nlohmann::ordered_json::array();
    for (const Diagnostic& d : report.diagnostics) {
        list.push_back({{"file", d.file},
                        {"line", d.line},
                        {"severity", SeverityName(d.severity)},
                        {"rule", d.rule},
                        {"key", d.key},
                        {"resource", d.resource},
                        {"message", d.message}});
    }
    // Names and paths come from files written by others: bytes that are not UTF-8 become U+FFFD.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace acme::catalog
