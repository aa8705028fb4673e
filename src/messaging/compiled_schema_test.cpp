#include "messaging/compiled_schema.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>
#include <vector>

namespace acme::messaging {
namespace {

using nlohmann::json;

// The reference: valijson as the contract registry runs it (draft-07, strong types).
class Reference {
  public:
    explicit Reference(const json& schema) {
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(schema);
        parser.populateSchema(adapter, schema_);
    }
    bool Valid(const json& doc) const {
        valijson::Validator validator;
        valijson::adapters::NlohmannJsonAdapter adapter(doc);
        return validator.validate(schema_, adapter, nullptr);
    }

  private:
    valijson::Schema schema_;
};

CompiledSchema MustCompile(const json& schema) {
    auto compiled = CompiledSchema::Compile(schema);
    EXPECT_TRUE(compiled.has_value()) << (compiled ? "" : compiled.error().message);
    return std::move(compiled.value());
}

TEST(CompiledSchemaTest, ChecksTheDraft07Subset) {
    const json schema = json::parse(R"({
      "$schema": "http://json-schema.org/draft-07/schema#",
      "type": "object", "additionalProperties": false,
      "required": ["id", "lines"],
      "properties": {
        "id": {"type": "string", "minLength": 2, "maxLength": 4},
        "lines": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"$ref": "#/definitions/line"}},
        "note": {"type": ["string", "null"]},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "extra": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "tree": {"$ref": "#/definitions/tree"},
        "nothing": false
      },
      "definitions": {
        "line": {"type": "object", "required": ["qty"],
                 "properties": {"qty": {"type": "integer", "minimum": 1, "maximum": 1000}}},
        "tree": {"type": "object", "properties": {"child": {"$ref": "#/definitions/tree"},
                                                   "leaf": {"type": "integer"}}}
      }
    })");
    const CompiledSchema compiled = MustCompile(schema);
    const Reference reference(schema);
    const std::vector<std::pair<std::string, bool>> cases = {
        {R"({"id": "ab", "lines": [{"qty": 1}]})", true},
        {R"({"id": "ab", "lines": [{"qty": 1}, {"qty": 1000}]})", true},
        {R"({"id": "ab", "lines": []})", false},                                    // minItems
        {R"({"id": "ab", "lines": [{"qty": 1}, {"qty": 1}, {"qty": 1}]})", false},  // maxItems
        {R"({"id": "ab", "lines": [{"qty": 0}]})", false},                          // minimum
        {R"({"id": "ab", "lines": [{"qty": 1001}]})", false},                       // maximum
        {R"({"id": "ab", "lines": [{"qty": 1.0}]})", false},             // not an integer
        {R"({"id": "ab", "lines": [{}]})", false},                       // required
        {R"({"id": "a", "lines": [{"qty": 1}]})", false},                // minLength
        {R"({"id": "ééé", "lines": [{"qty": 1}]})", true},               // code points, not bytes
        {R"({"id": "abcde", "lines": [{"qty": 1}]})", false},            // maxLength
        {R"({"id": 12, "lines": [{"qty": 1}]})", false},                 // type
        {R"({"lines": [{"qty": 1}]})", false},                           // required
        {R"({"id": "ab", "lines": [{"qty": 1}], "other": 1})", false},   // additionalProperties
        {R"({"id": "ab", "lines": [{"qty": 1}], "note": null})", true},  // type list
        {R"({"id": "ab", "lines": [{"qty": 1}], "note": 3})", false},
        {R"({"id": "ab", "lines": [{"qty": 1}], "ratio": 0.5})", true},
        {R"({"id": "ab", "lines": [{"qty": 1}], "ratio": 1})", true},  // integer is a number
        {R"({"id": "ab", "lines": [{"qty": 1}], "ratio": 1.5})", false},
        {R"({"id": "ab", "lines": [{"qty": 1}], "extra": {"a": true}})", true},
        {R"({"id": "ab", "lines": [{"qty": 1}], "extra": {"a": 1}})", false},  // additional schema
        {R"({"id": "ab", "lines": [{"qty": 1}], "tree": {"child": {"child": {"leaf": 1}}}})", true},
        {R"({"id": "ab", "lines": [{"qty": 1}], "tree": {"child": {"child": {"leaf": "x"}}}})",
         false},                                                          // recursive $ref
        {R"({"id": "ab", "lines": [{"qty": 1}], "nothing": 1})", false},  // schema false
        {R"([])", false},
    };
    for (const auto& [text, valid] : cases) {
        const json doc = json::parse(text);
        EXPECT_EQ(compiled.Valid(doc), valid) << text;
        EXPECT_EQ(reference.Valid(doc), valid) << "valijson disagrees with the case: " << text;
    }
}

TEST(CompiledSchemaTest, RefusesWhatItDoesNotImplement) {
    for (const char* text : {
             R"({"type": "string", "pattern": "^a"})",
             R"({"type": "string", "format": "date-time"})",
             R"({"allOf": [{"type": "string"}]})",
             R"({"properties": {"a": {"$ref": "#/definitions/x", "type": "string"}},
                 "definitions": {"x": {}}})",
             R"({"properties": {"a": {"$ref": "other.json#/x"}}})",
             R"({"items": [{"type": "string"}]})",
         }) {
        auto compiled = CompiledSchema::Compile(json::parse(text));
        ASSERT_FALSE(compiled.has_value()) << text;
        EXPECT_EQ(compiled.error().code, ErrorCode::kFailedPrecondition) << text;
    }
    auto missing = CompiledSchema::Compile(json::parse(R"({"$ref": "#/definitions/none"})"));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
    auto cycle =
        CompiledSchema::Compile(json::parse(R"({"properties": {"a": {"$ref": "#/definitions/b"}},
                        "definitions": {"b": {"$ref": "#/definitions/c"},
                                        "c": {"$ref": "#/definitions/b"}}})"));
    ASSERT_FALSE(cycle.has_value());
    EXPECT_EQ(cycle.error().code, ErrorCode::kInvalidArgument);
}

// A valid instance of `schema` (the subset above), built from its first type.
json Sample(const json& root, const json& schema) {
    if (schema.is_boolean()) return "x";
    if (schema.contains("$ref")) {
        return Sample(root,
                      root.at(json::json_pointer(schema.at("$ref").get<std::string>().substr(1))));
    }
    json type = schema.value("type", json("object"));
    if (type.is_array()) type = type.at(0);
    const std::string t = type.get<std::string>();
    if (t == "object") {
        json out = json::object();
        if (schema.contains("properties")) {
            for (const auto& [name, sub] : schema.at("properties").items()) {
                out[name] = Sample(root, sub);
            }
        }
        return out;
    }
    if (t == "array") {
        json out = json::array();
        const auto n = std::max<std::size_t>(1, schema.value("minItems", std::size_t{1}));
        for (std::size_t i = 0; i < n; ++i)
            out.push_back(Sample(root, schema.value("items", json::object())));
        return out;
    }
    if (t == "string") {
        if (schema.value("format", "") == "date-time") return "2026-11-30T12:00:00Z";
        return std::string(std::max<std::size_t>(1, schema.value("minLength", std::size_t{1})),
                           'A');
    }
    if (t == "integer") return schema.value("minimum", std::int64_t{1});
    if (t == "number") return schema.value("minimum", 1.5);
    if (t == "boolean") return true;
    return nullptr;
}

// Every document one change away from `doc`: each value replaced by values of every type and
// at the edges of the usual limits, each object key removed, an unknown key added, arrays
// emptied and grown.
void Mutations(const json& doc, const json::json_pointer& at, std::vector<json>& out) {
    const json& here = doc.at(at);
    for (const json& v : {json(nullptr), json(true), json(0), json(-1), json(1), json(1.5),
                          json(1000), json(1001), json(""), json("AB"), json("ABC"), json("ABCD"),
                          json("ééé"), json::array(), json::object()}) {
        json copy = doc;
        copy[at] = v;
        out.push_back(std::move(copy));
    }
    if (here.is_object()) {
        json copy = doc;
        copy[at]["unknownKey"] = 1;
        out.push_back(std::move(copy));
        for (const auto& [key, value] : here.items()) {
            json removed = doc;
            removed[at].erase(key);
            out.push_back(std::move(removed));
            Mutations(doc, at / key, out);
        }
    }
    if (here.is_array() && !here.empty()) {
        json grown = doc;
        for (int i = 0; i < 3; ++i) grown[at].push_back(here.at(0));
        out.push_back(std::move(grown));
        Mutations(doc, at / 0, out);
    }
}

// Every message schema of Acme's catalog, and thousands of payloads near its valid ones: the
// compiled check and valijson give the same answer for each.
TEST(CompiledSchemaTest, AgreesWithValijsonOnTheCatalogsSchemas) {
    int schemas = 0;
    int compiled_schemas = 0;
    int payloads = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator("catalog")) {
        if (entry.path().filename() != "schema.json") continue;
        ++schemas;
        std::ifstream in(entry.path());
        const json schema = json::parse(in);
        auto compiled = CompiledSchema::Compile(schema);
        if (!compiled) {
            // Only `format` keeps a catalog schema on valijson today.
            EXPECT_NE(compiled.error().message.find("format"), std::string::npos)
                << entry.path() << ": " << compiled.error().message;
            continue;
        }
        ++compiled_schemas;
        const Reference reference(schema);
        const json valid = Sample(schema, schema);
        ASSERT_TRUE(reference.Valid(valid)) << entry.path() << " sample " << valid.dump();
        std::vector<json> docs = {valid};
        Mutations(valid, json::json_pointer(), docs);
        int invalid = 0;
        for (const json& doc : docs) {
            const bool expected = reference.Valid(doc);
            EXPECT_EQ(compiled->Valid(doc), expected) << entry.path() << ": " << doc.dump();
            invalid += expected ? 0 : 1;
            ++payloads;
        }
        EXPECT_GT(invalid, 0) << entry.path();
    }
    EXPECT_GE(schemas, 30);
    EXPECT_GE(compiled_schemas, schemas - 2);
    EXPECT_GT(payloads, 1000);
    std::printf("%d schemas, %d compiled, %d payloads\n", schemas, compiled_schemas, payloads);
}

}  // namespace
}  // namespace acme::messaging
