#!/usr/bin/env bash
# Rows/s of Panamax's Spark functions, local[1] against local[2] in one run (SparkBench):
#   tools/spark-bench.sh [MODEL|kjv-llama] [embed|generate] [ROWS] [MAX_TOKENS] [BATCH]
# Builds the spark module's test classes and runs them on the test class path (Spark from Maven).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/find-jdk.sh
panamax_find_jdk || exit 1
export JAVA_HOME=$PANAMAX_JAVA_HOME MAVEN_OPTS="$(panamax_maven_opts)"
mvn -B -q -ntp install -DskipTests -pl spark -am
mvn -B -q -ntp -pl spark test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
opens=$(mvn -B -q -ntp -pl spark help:evaluate -Dexpression=spark.jvm.opens -DforceStdout 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | tr '\n' ' ') # the pom's list
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED $opens -Xmx4g \
  -cp "spark/target/test-classes:spark/target/classes:$(cat spark/target/test-classpath.txt)" dev.panamax.spark.SparkBench "$@" 2>&1 \
  | grep -v "WARNING: Using incubator\|^WARNING: \|^Using Spark.s default\| INFO \| WARN "
