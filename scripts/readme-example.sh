#!/usr/bin/env bash
# The README's Java example as a user meets it: `mvn install` of this checkout, then a separate Maven
# project whose only dependencies are the README's ```xml <dependency> block and whose only source is
# the README's first ```java block; built, its runtime dependency tree checked for third-party
# artifacts, and run on the class path and on the module path (same output both ways).
# ./run-tests calls it after the test suite; alone: scripts/readme-example.sh
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
. "$root/scripts/find-jdk.sh"
panamax_find_jdk || exit 1
panamax_require_maven || exit 1
export JAVA_HOME="$PANAMAX_JAVA_HOME" MAVEN_OPTS="$(panamax_maven_opts)"
java="$JAVA_HOME/bin/java"
say() { echo "readme-example: $*" >&2; }

say "mvn install (tests skipped: ./run-tests ran them)"
(cd "$root" && mvn -B -ntp -q install -DskipTests)

work="$root/target/readme-example"
rm -rf "$work" && mkdir -p "$work/src/main/java"
block() { # $1 = fence language: the first such block of README.md
  awk -v lang="$1" '$0 == "```" lang { inside = 1; next } inside && $0 == "```" { exit } inside { print }' "$root/README.md"
}
deps=$(block xml)
source=$(block java)
[ -n "$deps" ] && [ -n "$source" ] || { say "README.md needs an \`\`\`xml dependency block and a \`\`\`java block"; exit 1; }
class=$(printf '%s\n' "$source" | sed -n 's/^public class \([A-Za-z0-9_]*\).*/\1/p' | head -1)
[ -n "$class" ] || { say "the README's java block has no public class"; exit 1; }
printf '%s\n' "$source" > "$work/src/main/java/$class.java"
cat > "$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId>
  <artifactId>readme-example</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>25</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
$deps
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.14.1</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.5.0</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.9.0</version></plugin>
    </plugins>
  </build>
</project>
POM

say "building the example as its own project"
(cd "$work" && mvn -B -ntp -q compile dependency:build-classpath -Dmdep.outputFile=classpath.txt -DincludeScope=runtime \
   dependency:list -DincludeScope=runtime -DoutputFile=dependencies.txt)
third=$(grep -E '^ +[^ ]+:[^ ]+:' "$work/dependencies.txt" | grep -v ' dev\.panamax:' || true)
if [ -n "$third" ]; then say "third-party runtime dependencies:"; echo "$third" >&2; exit 1; fi
say "runtime dependencies: $(grep -cE '^ +dev\.panamax:' "$work/dependencies.txt") dev.panamax artifacts, nothing else"

cp=$(cat "$work/classpath.txt")
say "running on the class path"
"$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp "$work/target/classes:$cp" "$class" > "$work/classpath.out"
say "running on the module path"
"$java" --add-modules jdk.incubator.vector,dev.panamax,dev.panamax.kjv --enable-native-access=dev.panamax.runtime \
  --module-path "$cp" -cp "$work/target/classes" "$class" > "$work/modulepath.out"
cat "$work/classpath.out"
grep -q "stopped by MAX_TOKENS" "$work/classpath.out" || { say "the example did not generate"; exit 1; }
cmp -s "$work/classpath.out" "$work/modulepath.out" || { say "module path output differs:"; diff "$work/classpath.out" "$work/modulepath.out" >&2; exit 1; }
say "ok: the README example builds from its dependency block alone and gives the same output on the class and module paths"
