@echo off
rem The dm command shipped inside the Dotdesk app (Electron as Node).
set ELECTRON_RUN_AS_NODE=1
"%~dp0..\..\Dotdesk.exe" "%~dp0..\app.asar\dist\electron\cli\main.js" %*
