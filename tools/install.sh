#!/bin/sh
# ninja install: the binary, the man page and the bash completion, under
# $DESTDIR$PREFIX (PREFIX defaults to the one configure.py recorded, given
# as $1).  Used by build.ninja's `install` target:
#     ninja install
#     PREFIX=/usr DESTDIR=/tmp/pkg ninja install
set -eu
prefix=${PREFIX:-$1}
binary=$2
man=$3
completion=$4
root=${DESTDIR:-}$prefix
install -Dm755 "$binary" "$root/bin/rzup-extract"
install -Dm644 "$man" "$root/share/man/man1/rzup-extract.1.gz"
install -Dm644 "$completion" \
    "$root/share/bash-completion/completions/rzup-extract"
echo "installed rzup-extract into ${DESTDIR:-}$prefix (bin, share/man/man1," \
     "share/bash-completion)"
