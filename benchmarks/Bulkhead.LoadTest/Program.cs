using Bulkhead.LoadTest;

return await LoadTestCommand.RunAsync(args);
