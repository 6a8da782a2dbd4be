# Turns tools/serve/page.html into a C++ source whose serve_page() returns it (tools/serve/page.h);
# run at build time by tools/CMakeLists.txt whenever the page changes: cmake -DINPUT=... -DOUTPUT=...
file(READ "${INPUT}" content)
string(FIND "${content}" ")busi_page\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string's delimiter )busi_page\"")
endif()
file(WRITE "${OUTPUT}.tmp"
     "// Generated from tools/serve/page.html by tools/serve/embed_page.cmake: do not edit.\n"
     "#include \"tools/serve/page.h\"\n\nnamespace busi::tools {\n\n"
     "std::string_view serve_page() {\n"
     "  static constexpr char kPage[] = R\"busi_page(${content})busi_page\";\n"
     "  return {kPage, sizeof kPage - 1};\n}\n\n}  // namespace busi::tools\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
