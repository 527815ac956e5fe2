# atoll_plugin(<target> <output-name> SOURCES ... [LIBS ...]
#              [OUTPUT_DIRECTORY <dir>] [NO_INSTALL] [VERSION_SCRIPT <map>])
# Builds a dlopen()able module, the one way every plugin of the tree is
# built: no "lib" prefix, hidden symbols except the entry point the ABI
# header declares visible, no undefined symbols, and --exclude-libs,ALL so
# that static libraries linked in (atoll_util, atoll_json, ...) export
# nothing either; a version script (cmake/plugin.map) keeps the dynamic
# symbol table to the entry point alone (test builds may name another map). It lands in ${ATOLL_PLUGIN_DIR} and is installed
# (drivers into lib/atoll/drivers, backends into lib/atoll/backends), unless
# OUTPUT_DIRECTORY and NO_INSTALL say otherwise (modules built for tests).
# Installed modules are listed in the global property ATOLL_PLUGIN_MODULES
# for the test that checks what they export.
function(atoll_plugin target outname)
  cmake_parse_arguments(P "NO_INSTALL" "OUTPUT_DIRECTORY;VERSION_SCRIPT" "SOURCES;LIBS" ${ARGN})
  if(NOT P_VERSION_SCRIPT)
    set(P_VERSION_SCRIPT "${CMAKE_SOURCE_DIR}/cmake/plugin.map")
  endif()
  if(NOT P_OUTPUT_DIRECTORY)
    set(P_OUTPUT_DIRECTORY "${ATOLL_PLUGIN_DIR}")
  endif()
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME ${outname}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY "${P_OUTPUT_DIRECTORY}")
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_options(${target} PRIVATE ${ATOLL_MODULE_NO_UNDEFINED}
                      -Wl,--exclude-libs,ALL
                      -Wl,--version-script=${P_VERSION_SCRIPT})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${P_VERSION_SCRIPT})
  if(P_LIBS)
    target_link_libraries(${target} PRIVATE ${P_LIBS})
  endif()
  if(NOT P_NO_INSTALL)
    # TEE drivers (drivers/) go where islands probe them and into the
    # atoll-drivers package; backends (plugins/) into atoll-island.
    string(FIND "${CMAKE_CURRENT_SOURCE_DIR}/" "${CMAKE_SOURCE_DIR}/drivers/" in_drivers)
    if(in_drivers EQUAL 0)
      install(TARGETS ${target} LIBRARY DESTINATION ${ATOLL_INSTALL_DRIVER_DIR}
              COMPONENT drivers)
    else()
      install(TARGETS ${target} LIBRARY DESTINATION ${ATOLL_INSTALL_BACKEND_DIR}
              COMPONENT island)
    endif()
    set_property(GLOBAL APPEND PROPERTY ATOLL_PLUGIN_MODULES ${target})
  endif()
endfunction()
