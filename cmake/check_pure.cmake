cmake_policy(SET CMP0057 NEW)
# Fails when the static library LIB (read with NM) calls anything that does
# I/O, blocks, touches threads or reads a clock: the pure HTTP library must
# take bytes and metadata in and give results out, nothing else.
#   cmake -DNM=nm -DLIB=libws_http.a -P check_pure.cmake
execute_process(COMMAND ${NM} --undefined-only --format=posix ${LIB}
  OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_pure: ${NM} failed on ${LIB}")
endif()
set(forbidden
  # descriptors and files
  open openat openat2 close read write pread pwrite readv writev lseek fstat fstatat stat
  lstat statx fopen fdopen fclose fread fwrite fgets fputs fprintf printf puts perror
  opendir fdopendir readdir closedir dup dup2 fcntl ioctl mmap munmap sendfile splice
  # sockets and polling
  socket accept accept4 bind listen connect send recv sendto recvfrom sendmsg recvmsg
  shutdown setsockopt getsockopt poll ppoll select epoll_create1 epoll_ctl epoll_wait
  inotify_init1 inotify_add_watch
  # threads and time
  pthread_create pthread_join pthread_mutex_lock pthread_mutex_unlock pthread_cond_wait
  pthread_cond_signal pthread_cond_broadcast sleep usleep nanosleep clock_gettime time
  gettimeofday
  # processes
  fork execve kill signal sigaction syscall exit abort)
string(REGEX MATCHALL "[^\n]+" lines "${undefined}")
set(found "")
foreach(line IN LISTS lines)
  string(REGEX MATCH "^[^ ]+" sym "${line}")
  string(REGEX REPLACE "@.*$" "" sym "${sym}")
  # _FORTIFY_SOURCE spells some of them __read_chk and the like.
  string(REGEX REPLACE "^__(.*)_chk$" "\\1" base "${sym}")
  if(sym IN_LIST forbidden OR base IN_LIST forbidden)
    list(APPEND found ${sym})
  endif()
endforeach()
if(found)
  list(REMOVE_DUPLICATES found)
  message(FATAL_ERROR "check_pure: ${LIB} must stay pure but calls: ${found}")
endif()
