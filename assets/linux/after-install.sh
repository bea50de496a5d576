#!/bin/sh
# Puts the shipped dm command on the PATH.
ln -sf '/opt/Dotdesk/resources/bin/dm' /usr/bin/dm
