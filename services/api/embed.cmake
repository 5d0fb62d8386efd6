# Turns a file into a C array (run with -DIN=<file> -DOUT=<file.c> -DNAME=<symbol>).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\n"
  "const unsigned char ${NAME}[] = {${arr}0x00};\n"
  "const size_t ${NAME}_len = sizeof(${NAME}) - 1;\n")
