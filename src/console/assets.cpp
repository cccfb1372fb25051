#include "console/assets.hpp"

#include <span>

namespace webhookd::console {

extern const std::span<const std::string_view> kAssetTexts;
extern const std::span<const std::string_view> kAssetNames;

namespace {

std::string_view ContentTypeOf(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

std::optional<Asset> FindAsset(std::string_view name) {
  for (std::size_t i = 0; i < kAssetNames.size(); ++i) {
    if (kAssetNames[i] == name) return Asset{kAssetTexts[i], ContentTypeOf(name)};
  }
  return std::nullopt;
}

}  // namespace webhookd::console
