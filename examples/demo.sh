#!/bin/sh
# placeholder: the dpkg.log demo lands with the cano command
exec "$(dirname "$0")/../build/examples/hello" "$2"
