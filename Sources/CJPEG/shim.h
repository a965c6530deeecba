// libjpeg-turbo (Debian: libjpeg-dev / libjpeg62-turbo-dev). jpeglib.h needs stdio first.
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>
