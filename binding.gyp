{
  "targets": [
    {
      "target_name": "dmfs",
      "sources": ["electron/engine/native/dmfs.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
