// The web console's files, compiled into the binary (src/console/CMakeLists.txt).
#pragma once

#include <optional>
#include <string_view>

namespace webhookd::console {

struct Asset {
  std::string_view body;
  std::string_view content_type;
};

// The file `name` ("index.html", "app.js", ...), or nullopt when the console has none.
std::optional<Asset> FindAsset(std::string_view name);

}  // namespace webhookd::console
