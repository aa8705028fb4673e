// Graphviz adapter: the only file that includes gvc.h.
#include <graphviz/gvc.h>

#include <memory>

#include "catalog/graph_view.hpp"

namespace acme::catalog {

Result<std::string> RenderSvg(const std::string& dot) {
    std::unique_ptr<GVC_t, decltype(&gvFreeContext)> gvc(gvContext(), &gvFreeContext);
    if (!gvc) return MakeError(ErrorCode::kInternal, "graphviz: cannot create a context");
    Agraph_t* g = agmemread(dot.c_str());
    if (g == nullptr) return MakeError(ErrorCode::kInternal, "graphviz: cannot read the graph");
    if (gvLayout(gvc.get(), g, "dot") != 0) {
        agclose(g);
        return MakeError(ErrorCode::kInternal, "graphviz: layout failed");
    }
    char* data = nullptr;
    unsigned int length = 0;
    const int rc = gvRenderData(gvc.get(), g, "svg", &data, &length);
    std::string svg;
    if (rc == 0 && data != nullptr) svg.assign(data, length);
    if (data != nullptr) gvFreeRenderData(data);
    gvFreeLayout(gvc.get(), g);
    agclose(g);
    if (rc != 0) return MakeError(ErrorCode::kInternal, "graphviz: svg rendering failed");
    return svg;
}

}  // namespace acme::catalog
