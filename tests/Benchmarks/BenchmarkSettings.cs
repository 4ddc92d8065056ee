using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace VoiceActors.Benchmarks;

public static class BenchmarkSettings
{
    /// <summary>
    /// In-process toolchain: no generated project to build (central package management and warnings-as-errors stay ours),
    /// and a short run because the machine is small and shared. Memory diagnoser: the hot path must not allocate per frame.
    /// </summary>
    public static readonly IConfig Config = ManualConfig.Create(DefaultConfig.Instance)
        .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
        .AddDiagnoser(MemoryDiagnoser.Default)
        .WithOptions(ConfigOptions.DisableOptimizationsValidator);
}
