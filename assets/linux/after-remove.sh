#!/bin/sh
# Removes the dm link if it still points into the app.
if [ "$(readlink /usr/bin/dm)" = '/opt/Dotdesk/resources/bin/dm' ]; then rm -f /usr/bin/dm; fi
