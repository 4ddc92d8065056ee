using System.Diagnostics;

namespace VoiceActors.LoadTest.Cluster;

/// <summary>The cluster a run drives: an Orleans client, the silos' resource use, and the chaos it can inflict.</summary>
public abstract class ClusterUnderTest : IAsyncDisposable
{
    public abstract IClusterClient Client { get; }

    /// <summary>What is measured and how, in one line for the report (e.g. "3 silo processes on redis-server").</summary>
    public abstract string Description { get; }

    /// <summary>The silos' combined resource use right now; null when the silos are not ours to measure.</summary>
    public abstract ResourceSample? SampleSilos();

    public virtual Task KillSiloAsync() => throw new InvalidOperationException("This cluster has no silo process to kill.");

    public virtual Task DrainSiloAsync() => throw new InvalidOperationException("This cluster has no silo process to drain.");

    public virtual Task RestartRedisAsync() => throw new InvalidOperationException("This cluster has no redis-server of its own to restart.");

    public abstract ValueTask DisposeAsync();

    /// <summary>CPU time and working set of processes; a process that exited keeps its last CPU reading so deltas stay monotonic.</summary>
    protected static ResourceSample Measure(IEnumerable<Process> processes, Dictionary<int, TimeSpan> lastCpu)
    {
        long workingSet = 0;
        var alive = 0;
        foreach (var p in processes)
        {
            try
            {
                p.Refresh();
                if (p.HasExited) continue;
                lastCpu[p.Id] = p.TotalProcessorTime;
                workingSet += p.WorkingSet64;
                alive++;
            }
            catch (InvalidOperationException) { } // exited between the check and the read
        }
        var cpu = TimeSpan.Zero;
        foreach (var t in lastCpu.Values) cpu += t;
        return new ResourceSample(cpu, workingSet, alive);
    }
}

/// <summary>Cumulative CPU time and current working set of the silos.</summary>
public readonly record struct ResourceSample(TimeSpan CpuTime, long WorkingSetBytes, int Processes);
