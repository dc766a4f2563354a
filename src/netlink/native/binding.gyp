{
  "targets": [
    {
      "target_name": "vifq_nlsock",
      "sources": ["nlsock.c", "sdnotify.c", "throw.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
