using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Bulkhead.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
