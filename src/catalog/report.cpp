#include "catalog/report.hpp"

#include <cctype>
#include <map>
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

namespace {

std::string JoinPath(std::string_view prefix, const std::string& file) {
    std::string out(prefix);
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    if (out.empty() || out == ".") return file;
    return out + "/" + file;
}

// A URI reference for a relative path: unreserved characters and '/' as they are, every other
// byte (spaces, non-ASCII) percent-encoded.
std::string UriOf(const std::string& path) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : path) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) != 0 || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 0xF];
        }
    }
    return out;
}

std::string_view SarifLevel(Severity s) {
    switch (s) {
        case Severity::kError:
            return "error";
        case Severity::kWarning:
            return "warning";
        case Severity::kInfo:
            return "note";
    }
    return "note";
}

std::string Message(const Diagnostic& d) {
    return d.key.empty() ? d.message : d.key + ": " + d.message;
}

// Workflow-command escaping: data escapes %, CR and LF; properties also ':' and ','.
std::string EscapeData(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '%') {
            out += "%25";
        } else if (c == '\r') {
            out += "%0D";
        } else if (c == '\n') {
            out += "%0A";
        } else {
            out += c;
        }
    }
    return out;
}

std::string EscapeProperty(std::string_view text) {
    std::string out;
    for (const char c : EscapeData(text)) {
        if (c == ':') {
            out += "%3A";
        } else if (c == ',') {
            out += "%2C";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string RenderLintSarif(const LintReport& report, std::string_view path_prefix) {
    using nlohmann::ordered_json;
    ordered_json rules = ordered_json::array();
    std::map<std::string, std::size_t> rule_index;
    for (const RuleInfo& r : LintRules()) {
        rule_index.emplace(std::string(r.id), rules.size());
        rules.push_back({{"id", r.id},
                         {"shortDescription", {{"text", r.summary}}},
                         {"defaultConfiguration", {{"level", SarifLevel(r.severity)}}}});
    }
    ordered_json results = ordered_json::array();
    for (const Diagnostic& d : report.diagnostics) {
        auto [it, added] = rule_index.emplace(d.rule, rules.size());
        if (added) {  // a rule LintRules() does not list still gets a descriptor
            rules.push_back({{"id", d.rule},
                             {"shortDescription", {{"text", d.rule}}},
                             {"defaultConfiguration", {{"level", SarifLevel(d.severity)}}}});
        }
        ordered_json physical = {
            {"artifactLocation",
             {{"uri", UriOf(JoinPath(path_prefix, d.file))}, {"uriBaseId", "%SRCROOT%"}}}};
        if (d.line > 0) physical["region"] = {{"startLine", d.line}};
        ordered_json result = {
            {"ruleId", d.rule},
            {"ruleIndex", it->second},
            {"level", SarifLevel(d.severity)},
            {"message", {{"text", Message(d)}}},
            {"locations", ordered_json::array({{{"physicalLocation", physical}}})}};
        results.push_back(std::move(result));
    }
    ordered_json doc = {
        {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
        {"version", "2.1.0"},
        {"runs", ordered_json::array({{{"tool",
                                        {{"driver",
                                          {{"name", "acme"},
                                           {"informationUri", "https://www.eventcatalog.dev"},
                                           {"rules", std::move(rules)}}}}},
                                       {"columnKind", "unicodeCodePoints"},
                                       {"results", std::move(results)}}})}};
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string RenderLintGithub(const LintReport& report, std::string_view path_prefix) {
    std::string out;
    for (const Diagnostic& d : report.diagnostics) {
        const char* command = d.severity == Severity::kError     ? "error"
                              : d.severity == Severity::kWarning ? "warning"
                                                                 : "notice";
        out += "::";
        out += command;
        out += " file=" + EscapeProperty(JoinPath(path_prefix, d.file));
        if (d.line > 0) out += ",line=" + std::to_string(d.line);
        out += ",title=" + EscapeProperty(d.rule);
        out += "::" + EscapeData(Message(d)) + "\n";
    }
    out += "::notice title=acme catalog check::" +
           EscapeData(std::to_string(report.resources) + " resources in " +
                      std::to_string(report.files) + " files: " + std::to_string(report.errors) +
                      " errors, " + std::to_string(report.warnings) + " warnings") +
           "\n";
    return out;
}

}  // namespace acme::catalog
