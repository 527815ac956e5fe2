# atoll_plugin(<target> <output-name> SOURCES ... [LIBS ...])
# Builds a dlopen()able module into ${ATOLL_PLUGIN_DIR}: no "lib" prefix,
# hidden symbols except the entry point the source marks visible.
function(atoll_plugin target outname)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME ${outname}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY "${ATOLL_PLUGIN_DIR}")
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_options(${target} PRIVATE ${ATOLL_MODULE_NO_UNDEFINED})
  if(P_LIBS)
    target_link_libraries(${target} PRIVATE ${P_LIBS})
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/atoll)
endfunction()
