// Graphviz adapter: the only file that includes gvc.h.
#include <graphviz/gvc.h>

#include <mutex>

#include "catalog/graph_view.hpp"

namespace acme::catalog {

namespace {

// One Graphviz context for the process, used under a lock: Graphviz is not thread-safe, and
// Debian's 2.42 keeps text measurements whose font names belong to the context that made
// them, so a second context reads freed memory (AddressSanitizer showed it in pango's
// textspan_size on the second catalog rendered).
std::mutex& GraphvizMutex() {
    static std::mutex mutex;
    return mutex;
}

GVC_t* Context() {
    static GVC_t* const gvc = gvContext();  // never freed: lives as long as the process
    return gvc;
}

}  // namespace

Result<std::string> RenderSvg(const std::string& dot) {
    std::lock_guard lock(GraphvizMutex());
    GVC_t* gvc = Context();
    if (gvc == nullptr) return MakeError(ErrorCode::kInternal, "graphviz: cannot create a context");
    Agraph_t* g = agmemread(dot.c_str());
    if (g == nullptr) return MakeError(ErrorCode::kInternal, "graphviz: cannot read the graph");
    if (gvLayout(gvc, g, "dot") != 0) {
        agclose(g);
        return MakeError(ErrorCode::kInternal, "graphviz: layout failed");
    }
    char* data = nullptr;
    unsigned int length = 0;
    const int rc = gvRenderData(gvc, g, "svg", &data, &length);
    std::string svg;
    if (rc == 0 && data != nullptr) svg.assign(data, length);
    if (data != nullptr) gvFreeRenderData(data);
    gvFreeLayout(gvc, g);
    agclose(g);
    if (rc != 0) return MakeError(ErrorCode::kInternal, "graphviz: svg rendering failed");
    return svg;
}

}  // namespace acme::catalog
