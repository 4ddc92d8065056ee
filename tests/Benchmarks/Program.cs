using BenchmarkDotNet.Running;

// `dotnet run -c Release --project tests/Benchmarks -- --filter '*'` runs them all; see BENCHMARKS.md for the figures.
BenchmarkSwitcher.FromAssembly(typeof(VoiceActors.Benchmarks.BenchmarkSettings).Assembly).Run(args, VoiceActors.Benchmarks.BenchmarkSettings.Config);
