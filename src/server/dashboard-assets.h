// The dashboard's page (web/: HTML, JavaScript, CSS) compiled into the binary: CMake generates the definition
// (cmake/embed-assets.cmake, into the build tree) from the files, so `r1 dashboard` reads no file of its own at
// run time and works from any directory.
#pragma once

#include <string_view>
#include <vector>

namespace r1::server {

struct EmbeddedAsset {
  std::string_view name;  // the file's name in web/ ("index.html"), served as /<name>
  std::string_view mime;  // Content-Type
  std::string_view bytes;
};

const std::vector<EmbeddedAsset>& dashboard_assets();

}  // namespace r1::server
