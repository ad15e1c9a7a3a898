#!/bin/sh
# Runs the command given (`npm start`: the server) with the memory allocator facerec is measured with.
#
# Why: the server's native memory (onnxruntime's tensors, a new size for every photo and pyramid level; libvips'
# buffers) is allocated and freed from several threads in sizes that glibc's malloc keeps in its arenas once
# freed, so a long-running server's RSS climbs with every new input size. jemalloc (Debian: libjemalloc2) hands
# freed pages back to the system within a second (its background thread and decay times below); sharp's docs
# recommend it for the same reason. Without it, glibc runs with two arenas and a fixed mmap threshold, which bounds
# part of that growth. Figures: README, "Memory".
#
# thp:always: every JS ArrayBuffer, and so every onnxruntime output, is calloc'd. jemalloc zeroes reused memory for
# calloc by handing its pages back to the kernel (MADV_DONTNEED) unless thp is always, and each page then faults
# in again on first touch; on a VM where a fault costs ~11 µs that halved /rec throughput. With thp:always it
# zeroes with memset and backs its arenas with transparent huge pages (where the kernel allows them, i.e. its mode
# is madvise or always): /rec doubled, for more RSS under load that the decay still returns when idle.
#
# FACEREC_ALLOCATOR=glibc keeps glibc even where jemalloc is installed; =jemalloc fails when it is missing.
set -eu

choice=${FACEREC_ALLOCATOR:-auto}
case $choice in
  auto | jemalloc | glibc) ;;
  *)
    echo "facerec: FACEREC_ALLOCATOR must be auto, jemalloc or glibc, not \"$choice\"" >&2
    exit 2
    ;;
esac

jemalloc=
if [ "$choice" != glibc ]; then
  for lib in "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2; do
    if [ -r "$lib" ]; then
      jemalloc=$lib
      break
    fi
  done
  if [ -z "$jemalloc" ] && [ "$choice" = jemalloc ]; then
    echo "facerec: FACEREC_ALLOCATOR=jemalloc, but libjemalloc.so.2 was not found (Debian: apt-get install libjemalloc2)" >&2
    exit 2
  fi
fi

if [ -n "$jemalloc" ]; then
  LD_PRELOAD=$jemalloc${LD_PRELOAD:+ $LD_PRELOAD}
  MALLOC_CONF=${MALLOC_CONF:-background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000,thp:always}
  export LD_PRELOAD MALLOC_CONF
else
  MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
  MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432}
  export MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_
fi
exec "$@"
