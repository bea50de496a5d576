{
  "targets": [
    {
      "target_name": "dmfs",
      "sources": ["electron/engine/native/dmfs.c", "electron/engine/native/blake3.c"],
      "cflags": ["-O3", "-Wall"]
    }
  ]
}
