// Generates a synthetic, lint-clean EventCatalog catalog of about N resources, for benchmarks.
//
//   acme-gen-catalog --resources 10000 --out /tmp/cat10k [--seed 1]
//
// Shape (per 100 resources): ~1 domain, ~1 team, ~1 flow, 20 services, the rest messages
// (events, commands, queries) with a JSON Schema each; every tenth message also has an older
// version under versioned/. Every message has one producer and one consumer, every flow walks
// declared sends/receives edges, so both acme and EventCatalog's linter find no errors.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path);
    out << text;
}

std::string Schema(const std::string& id, int fields, bool extra) {
    std::string props;
    std::string required;
    for (int f = 0; f < fields; ++f) {
        const std::string name = "field" + std::to_string(f);
        props += (f ? "," : "") + std::string("\n    \"") + name + "\": {\"type\": \"" +
                 (f % 3 == 0 ? "integer" : "string") + "\"}";
        if (f < 2) required += (f ? ", " : "") + std::string("\"") + name + "\"";
    }
    if (extra) props += ",\n    \"note\": {\"type\": \"string\"}";
    return "{\n  \"$schema\": \"http://json-schema.org/draft-07/schema#\",\n  \"title\": \"" + id +
           "\",\n  \"type\": \"object\",\n  \"required\": [" + required +
           "],\n  \"properties\": {" + props + "\n  }\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"generate a synthetic EventCatalog catalog", "acme-gen-catalog"};
    int n = 1000;
    std::string out;
    unsigned seed = 1;
    app.add_option("--resources", n, "approximate number of resources")
        ->check(CLI::Range(50, 1000000));
    app.add_option("--out", out, "output folder (created; must not exist)")->required();
    app.add_option("--seed", seed, "random seed");
    CLI11_PARSE(app, argc, argv);
    const fs::path root(out);
    if (fs::exists(root)) {
        std::fprintf(stderr, "acme-gen-catalog: %s exists\n", out.c_str());
        return 2;
    }
    std::mt19937 rng(seed);
    const int teams = std::max(2, n / 100);
    const int domains = std::max(1, n / 100);
    const int flows = std::max(1, n / 100);
    const int services = std::max(4, n / 5);
    const int total_messages = n - teams - domains - flows - services;
    // Every tenth message id gets two versions; count files, not ids.
    const int message_ids = total_messages * 10 / 11;

    auto service_id = [](int s) { return "service-" + std::to_string(s); };
    auto domain_of = [&](int s) { return s % domains; };
    auto team_of = [&](int s) { return "team-" + std::to_string(s % teams); };
    static const char* kKinds[] = {"event", "command", "query"};
    static const char* kFolders[] = {"events", "commands", "queries"};
    struct Message {
        std::string id;
        int kind;
        int producer;
        int consumer;
    };
    std::vector<Message> messages;
    std::vector<std::vector<int>> sends(static_cast<std::size_t>(services));
    std::vector<std::vector<int>> receives(static_cast<std::size_t>(services));
    for (int m = 0; m < message_ids; ++m) {
        const int kind = m % 10 < 6 ? 0 : (m % 10 < 9 ? 1 : 2);
        const int producer = m % services;
        int consumer = static_cast<int>(rng() % static_cast<unsigned>(services));
        if (consumer == producer) consumer = (consumer + 1) % services;
        messages.push_back(
            {std::string(kKinds[kind]) + "-" + std::to_string(m), kind, producer, consumer});
        sends[static_cast<std::size_t>(producer)].push_back(m);
        receives[static_cast<std::size_t>(consumer)].push_back(m);
    }
    for (int t = 0; t < teams; ++t) {
        Write(root / "teams" / ("team-" + std::to_string(t) + ".mdx"),
              "---\nid: team-" + std::to_string(t) + "\nname: Team " + std::to_string(t) +
                  "\nsummary: Synthetic team " + std::to_string(t) +
                  "\n---\n\nA synthetic team.\n");
    }
    for (int d = 0; d < domains; ++d) {
        std::string text = "---\nid: domain-" + std::to_string(d) + "\nname: Domain " +
                           std::to_string(d) + "\nversion: 1.0.0\nsummary: Synthetic domain " +
                           std::to_string(d) + "\nowners:\n  - team-" + std::to_string(d % teams) +
                           "\nservices:\n";
        for (int s = d; s < services; s += domains) {
            text += "  - id: " + service_id(s) + "\n    version: 1.0.0\n";
        }
        if (d < flows) text += "flows:\n  - id: flow-" + std::to_string(d) + "\n";
        text += "---\n\nA synthetic domain.\n\n<NodeGraph />\n";
        Write(root / "domains" / ("domain-" + std::to_string(d)) / "index.mdx", text);
    }
    for (int s = 0; s < services; ++s) {
        std::string text = "---\nid: " + service_id(s) + "\nname: Service " + std::to_string(s) +
                           "\nversion: 1.0.0\nsummary: Synthetic service " + std::to_string(s) +
                           "\nowners:\n  - " + team_of(s) + "\n";
        if (!sends[static_cast<std::size_t>(s)].empty()) {
            text += "sends:\n";
            for (int m : sends[static_cast<std::size_t>(s)]) {
                text += "  - id: " + messages[static_cast<std::size_t>(m)].id +
                        "\n    version: ^1.0.0\n";
            }
        }
        if (!receives[static_cast<std::size_t>(s)].empty()) {
            text += "receives:\n";
            for (int m : receives[static_cast<std::size_t>(s)]) {
                text += "  - id: " + messages[static_cast<std::size_t>(m)].id + "\n";
            }
        }
        text += "---\n\nA synthetic service.\n\n<NodeGraph />\n";
        Write(root / "domains" / ("domain-" + std::to_string(domain_of(s))) / "services" /
                  service_id(s) / "index.mdx",
              text);
    }
    int written_messages = 0;
    for (std::size_t m = 0; m < messages.size(); ++m) {
        const Message& msg = messages[m];
        const fs::path dir = root / "domains" /
                             ("domain-" + std::to_string(domain_of(msg.producer))) /
                             kFolders[msg.kind] / msg.id;
        auto page = [&](const std::string& version) {
            return "---\nid: " + msg.id + "\nname: " + msg.id + "\nversion: " + version +
                   "\nsummary: Synthetic " + kKinds[msg.kind] + " " + std::to_string(m) +
                   "\nowners:\n  - " + team_of(msg.producer) +
                   "\nschemaPath: schema.json\n---\n\nA synthetic message.\n\n<Schema "
                   "file=\"schema.json\" />\n";
        };
        const int fields = 3 + static_cast<int>(m % 6);
        if (m % 10 == 0) {
            Write(dir / "index.mdx", page("1.1.0"));
            Write(dir / "schema.json", Schema(msg.id, fields, true));
            Write(dir / "versioned" / "1.0.0" / "index.mdx", page("1.0.0"));
            Write(dir / "versioned" / "1.0.0" / "schema.json", Schema(msg.id, fields, false));
            written_messages += 2;
        } else {
            Write(dir / "index.mdx", page("1.0.0"));
            Write(dir / "schema.json", Schema(msg.id, fields, false));
            ++written_messages;
        }
    }
    for (int f = 0; f < flows; ++f) {
        // service -> message -> consumer -> one of its messages -> ... along declared edges.
        std::string steps;
        int service = f % services;
        int step = 0;
        for (int hop = 0; hop < 4; ++hop) {
            const auto& out_msgs = sends[static_cast<std::size_t>(service)];
            if (out_msgs.empty()) break;
            const Message& msg = messages[static_cast<std::size_t>(
                out_msgs[static_cast<std::size_t>(hop) % out_msgs.size()])];
            steps += "  - id: s" + std::to_string(step) + "\n    title: " + service_id(service) +
                     "\n    service:\n      id: " + service_id(service) + "\n    next_step: s" +
                     std::to_string(step + 1) + "\n";
            ++step;
            steps += "  - id: s" + std::to_string(step) + "\n    title: " + msg.id +
                     "\n    message:\n      id: " + msg.id + "\n    next_step: s" +
                     std::to_string(step + 1) + "\n";
            ++step;
            service = msg.consumer;
        }
        steps += "  - id: s" + std::to_string(step) + "\n    title: " + service_id(service) +
                 "\n    service:\n      id: " + service_id(service) + "\n";
        Write(root / "domains" / ("domain-" + std::to_string(f % domains)) / "flows" /
                  ("flow-" + std::to_string(f)) / "index.mdx",
              "---\nid: flow-" + std::to_string(f) + "\nname: Flow " + std::to_string(f) +
                  "\nversion: 1.0.0\nsummary: Synthetic flow " + std::to_string(f) +
                  "\nowners:\n  - team-0\nsteps:\n" + steps + "---\n\nA synthetic flow.\n");
    }
    std::printf("%d resources: %d teams, %d domains, %d services, %d message files, %d flows\n",
                teams + domains + services + written_messages + flows, teams, domains, services,
                written_messages, flows);
    return 0;
}
