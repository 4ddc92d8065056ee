using System.Collections.Concurrent;
using VoiceActors.LoadTest.Metrics;

namespace VoiceActors.LoadTest.Load;

/// <summary>The counters and histograms every session writes to; read by the sampler and the report.</summary>
public sealed class RunStats
{
    public long SessionsStarted;
    public long SessionsCompleted;
    public long SessionsLost;
    public long FramesSent;
    public long FramesAcked;
    public long FramesFailed;
    public long FramesAfterEnd;
    public long FramesReceived;
    public long FramesDroppedByClient;
    public long FramesLateAtClient;
    public long Utterances;
    public long TurnsAnswered;
    public long TurnsUnanswered;
    public long TurnsRecorded;
    public long Transcripts;
    public long ProviderGaps;
    public long Errors;

    public LatencyHistogram Create { get; } = new();
    public LatencyHistogram Join { get; } = new();
    public LatencyHistogram Inbound { get; } = new();
    public LatencyHistogram Outbound { get; } = new();
    public LatencyHistogram AudioPath { get; } = new();
    public LatencyHistogram Turn { get; } = new();

    /// <summary>Audio-path latency after the warm-up (creates done, JIT tiered up): the steady state capacity is judged on.</summary>
    public LatencyHistogram Steady { get; } = new();

    /// <summary>Set by the runner once the warm-up is over.</summary>
    public volatile bool InSteadyState;

    /// <summary>Audio-path latency of the current one-second window; the sampler swaps it out.</summary>
    public LatencyHistogram Window = new();

    /// <summary>Audio-path latency of the current minute of the run, exact to the µs (minutes are compared on it); the sampler swaps it out at each minute.</summary>
    public LatencyHistogram Minute = LatencyHistogram.Exact();

    public ConcurrentDictionary<string, long> ErrorKinds { get; } = new(StringComparer.Ordinal);
    public ConcurrentDictionary<string, long> LostReasons { get; } = new(StringComparer.Ordinal);
    public ConcurrentQueue<Outage> Outages { get; } = new();
    public ConcurrentQueue<double> LostAtS { get; } = new();

    /// <summary>Seconds since the run started, for outages and losses; set by the runner.</summary>
    public Func<double> Now { get; set; } = static () => 0;

    public long FirstCreateTimestamp;
    public long LastCreateTimestamp;

    public void RecordAudioLatency(LatencyHistogram path, long micros)
    {
        path.RecordMicros(micros);
        AudioPath.RecordMicros(micros);
        Volatile.Read(ref Window).RecordMicros(micros);
        Volatile.Read(ref Minute).RecordMicros(micros);
        if (InSteadyState) Steady.RecordMicros(micros);
    }

    public void RecordError(Exception e)
    {
        Interlocked.Increment(ref Errors);
        var kind = (e is AggregateException { InnerException: { } inner } ? inner : e).GetType().Name;
        ErrorKinds.AddOrUpdate(kind, 1, static (_, n) => n + 1);
    }

    public void RecordLost(string reason)
    {
        Interlocked.Increment(ref SessionsLost);
        LostAtS.Enqueue(Now());
        LostReasons.AddOrUpdate(reason, 1, static (_, n) => n + 1);
    }
}

/// <summary>A stretch during which one session's calls failed, in seconds since the run started.</summary>
public readonly record struct Outage(string SessionId, double FromS, double ToS);
