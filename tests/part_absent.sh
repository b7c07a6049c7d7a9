#!/bin/sh
# Stands for the tests of an optional part this build was configured without
# (./configure --disable-video / --disable-redis): automake reports it as skipped.
echo "SKIP: the tests of an optional part are not built: this library was configured without it (see config.log)"
exit 77
