# Gathers the console's files into STAGE_DIR (cmake -P): its own WEB_DIR/* as they are, and the
# pinned libraries from NODE_MODULES (installed by `npm ci` from src/console/package-lock.json)
# as vendor-*.js, their bare `from"preact"` imports pointed at the vendored copy, since a
# browser cannot resolve bare module names without an import map (an inline script, which
# the console's Content-Security-Policy forbids).
foreach(required WEB_DIR NODE_MODULES STAGE_DIR)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "stage_console.cmake: ${required} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE ${STAGE_DIR})
file(MAKE_DIRECTORY ${STAGE_DIR})
file(GLOB web_files ${WEB_DIR}/*)
file(COPY ${web_files} DESTINATION ${STAGE_DIR})

function(vendor source target)
  file(READ ${NODE_MODULES}/${source} text)
  string(REPLACE "from\"preact\"" "from\"./vendor-preact.js\"" text "${text}")
  string(REGEX REPLACE "\n//# sourceMappingURL=[^\n]*" "" text "${text}")
  file(WRITE ${STAGE_DIR}/${target} "${text}")
endfunction()
vendor(preact/dist/preact.module.js vendor-preact.js)
vendor(preact/hooks/dist/hooks.module.js vendor-hooks.js)
vendor(htm/dist/htm.module.js vendor-htm.js)
