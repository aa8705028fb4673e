// A JSON Schema (draft-07) compiled into a flat checker for the payloads checked on every
// publish.
//
// valijson walks a schema through visitors, copying a path of strings per property and
// allocating as it goes; on the publish path that was a fifth of the one writer's time. The
// schemas of a message catalog use a small part of draft-07, so that part is compiled into
// nodes checked directly against the parsed payload. A schema that uses anything else
// (`pattern`, `format`, `allOf`, remote `$ref`, ...) does not compile, and its messages keep
// being checked by valijson. The answer is only valid / not valid: the contract registry asks
// valijson again for a failing payload to say why.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/error.hpp"

namespace acme::messaging {

class CompiledSchema {
  public:
    ~CompiledSchema();
    CompiledSchema(CompiledSchema&&) noexcept;
    CompiledSchema& operator=(CompiledSchema&&) noexcept;

    // kFailedPrecondition naming the keyword when `schema` uses something outside the
    // subset: type (one or a list), properties, required, additionalProperties (boolean or
    // schema), items (one schema), minItems, maxItems, minLength, maxLength, minimum, maximum,
    // `$ref` to "#/..." within the document (alone, as draft-07 wants), boolean schemas;
    // annotations (title, description, $id, $schema, $comment, definitions, examples,
    // default) are ignored. kInvalidArgument when the schema is malformed.
    [[nodiscard]] static Result<CompiledSchema> Compile(const nlohmann::json& schema);

    // Whether `doc` is valid against the schema, with valijson's strong typing: "integer" is
    // a JSON number written without a fraction or exponent.
    [[nodiscard]] bool Valid(const nlohmann::json& doc) const;

  private:
    struct Impl;
    explicit CompiledSchema(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace acme::messaging
