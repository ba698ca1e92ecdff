# Sourced by ./panamax and ./run-tests: sets PANAMAX_JAVA_HOME to a JDK that can build and run
# Panamax, or prints what to install and returns 1.
#
# Panamax is compiled for Java 25 (the FFM API is final since 22; the Vector API is the incubating
# jdk.incubator.vector; JDK 25 adds the AOT cache). Order: $JAVA_HOME, `java` on PATH, then
# /usr/lib/jvm/* (newest first). A candidate's version comes from its `release` file, so finding one
# starts no JVM.

PANAMAX_MIN_JAVA=25

panamax__major() { # $1 = a Java home; sets REPLY to its feature version, or to "" when unknown
  # Read in bash itself, without a subshell: a start of ./panamax runs this for every candidate,
  # and forked sed and $(...) cost milliseconds each (0.16 s of a 0.4 s `./panamax --help` before).
  local home=$1 v="" line
  if [ -f "$home/release" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
      if [[ $line =~ ^JAVA_VERSION=\"([0-9][0-9.]*) ]]; then v=${BASH_REMATCH[1]}; break; fi
    done < "$home/release"
  fi
  if [ -z "$v" ] && [ -x "$home/bin/java" ]; then
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1)
  fi
  case "$v" in 1.*) v=${v#1.} ;; esac
  REPLY=${v%%.*}
}

panamax__java_major() { # $1 = a Java home; prints its feature version or nothing
  panamax__major "$1"
  printf '%s' "$REPLY"
}

panamax__usable() { # $1 = a Java home
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 1
  panamax__major "$1"
  [ -n "$REPLY" ] && [ "$REPLY" -ge "$PANAMAX_MIN_JAVA" ]
}

panamax_find_jdk() {
  local seen="" cand java_on_path
  if [ -n "${JAVA_HOME:-}" ]; then
    if panamax__usable "$JAVA_HOME"; then PANAMAX_JAVA_HOME=$JAVA_HOME; return 0; fi
    seen="$seen\n  JAVA_HOME=$JAVA_HOME (Java $(panamax__java_major "$JAVA_HOME"))"
  fi
  java_on_path=$(command -v java 2>/dev/null || true)
  if [ -n "$java_on_path" ]; then
    cand=$(readlink -f "$java_on_path")
    cand=${cand%/bin/java}
    if panamax__usable "$cand"; then PANAMAX_JAVA_HOME=$cand; return 0; fi
    seen="$seen\n  java on PATH: $cand (Java $(panamax__java_major "$cand"))"
  fi
  local best="" best_major=0
  for cand in /usr/lib/jvm/*/ /Library/Java/JavaVirtualMachines/*/Contents/Home/; do
    [ -d "$cand" ] || continue
    cand=${cand%/}
    panamax__major "$cand"
    if [ -n "$REPLY" ] && [ "$REPLY" -gt "$best_major" ] && panamax__usable "$cand"; then
      best=$cand best_major=$REPLY
    fi
  done
  if [ -n "$best" ]; then PANAMAX_JAVA_HOME=$best; return 0; fi
  {
    echo "panamax: no JDK $PANAMAX_MIN_JAVA or newer found."
    [ -n "$seen" ] && printf "Looked at:$seen\n  /usr/lib/jvm/*\n"
    echo "Install one, for example:"
    echo "  Debian/Ubuntu:  sudo apt-get install openjdk-25-jdk   (or Temurin 25 from adoptium.net)"
    echo "  macOS:          brew install openjdk@25"
    echo "then run again, or point JAVA_HOME at it."
  } >&2
  return 1
}

# Maven itself on JDK 24+ warns about sun.misc.Unsafe in its own libraries; keep that out of our output.
panamax_maven_opts() {
  printf '%s' "--sun-misc-unsafe-memory-access=allow ${MAVEN_OPTS:-}"
}

panamax_require_maven() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "panamax: Apache Maven (mvn) is needed to build Panamax and was not found." >&2
    echo "Install it, for example: sudo apt-get install maven   (or brew install maven)" >&2
    return 1
  fi
}
