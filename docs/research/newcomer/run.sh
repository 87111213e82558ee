#!/usr/bin/env bash
# The newcomer's run of docs/benchmarks.md ("A new app from the docs alone, with hey"). From the repository's root:
#   dotnet pack Bulkhead.sln -c Release -o /tmp/feed -p:VersionSuffix=dev.$(date +%Y%m%d%H%M%S)
#   dotnet new web -o /tmp/newapp && cd /tmp/newapp && dotnet new nugetconfig
#   dotnet nuget add source /tmp/feed --name bulkhead-local --configfile nuget.config
#   dotnet add package Bulkhead.AspNetCore --prerelease
#   cp <repo>/docs/research/newcomer/Program.cs.txt Program.cs; cp <repo>/docs/research/newcomer/appsettings.json .
#   dotnet build -c Release && bash <repo>/docs/research/newcomer/run.sh
# Needs hey (Debian: apt-get install hey). WORK_PER_MS fixes the reports' CPU work for both variants.
cd /tmp/newapp
p99() { grep "99% in" | awk '{print $3*1000}'; }
rps() { grep "Requests/sec" | awk '{print $2}'; }
for rep in 1 2 3; do
  for iso in 0 1; do
    WORK_PER_MS=3000000 ISOLATE=$iso ASPNETCORE_URLS=http://127.0.0.1:5080 dotnet bin/Release/net10.0/newapp.dll > /dev/null 2>&1 &
    pid=$!
    sleep 3
    hey -n 200 -c 4 http://127.0.0.1:5080/hello > /dev/null; hey -n 32 -c 16 http://127.0.0.1:5080/reports/1 > /dev/null
    solo=$(hey -z 10s -c 4 -q 25 http://127.0.0.1:5080/hello | p99)
    hey -z 15s -c 16 http://127.0.0.1:5080/reports/1 > /tmp/flood.txt &
    flood_pid=$!
    sleep 2
    flood=$(hey -z 10s -c 4 -q 25 http://127.0.0.1:5080/hello | p99)
    wait $flood_pid
    echo "pair $rep isolate=$iso solo_p99_ms=$solo flood_p99_ms=$flood reports_per_s=$(rps < /tmp/flood.txt)"
    kill $pid; wait $pid 2>/dev/null
  done
done
