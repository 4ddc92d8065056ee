using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using VoiceActors.Media;
using VoiceActors.Providers;

namespace VoiceActors.Tests.Providers;

/// <summary>Records what a provider connection or link reports, and lets a test wait for it (with a deadline: real sockets are involved).</summary>
public sealed class EventCollector : IVoiceEvents
{
    private readonly object _gate = new();
    private readonly List<(Func<bool> Done, TaskCompletionSource Signal)> _waiters = [];

    public ConcurrentQueue<AudioFrame> Audio { get; } = new();
    public ConcurrentQueue<Turn> Turns { get; } = new();
    public ConcurrentQueue<string> Errors { get; } = new();
    public ConcurrentQueue<string> Log { get; } = new();
    public int AudioSentToProvider;

    public void OnProviderAudio(AudioFrame frame) { Audio.Enqueue(frame); Changed(); }
    public void OnTranscript(Turn turn) { Turns.Enqueue(turn); Changed(); }
    public int SpeechStarts;
    public void OnCandidateSpeechStarted(string provider) { Interlocked.Increment(ref SpeechStarts); Log.Enqueue($"speech started {provider}"); Changed(); }
    public void OnProviderError(string provider, string code, string message) { Errors.Enqueue($"{provider}:{code}"); Changed(); }
    public void OnCandidateAudioSent(long sentAtUtcTicks, long handedOffUtcTicks) { Interlocked.Increment(ref AudioSentToProvider); Changed(); }
    public void OnProviderConnected(string provider, int attempt, int replayedTurns) { Log.Enqueue($"connected {provider} attempt={attempt} replayed={replayedTurns}"); Changed(); }
    public void OnProviderFailed(string provider, string reason, int consecutiveFailures) { Log.Enqueue($"failed {provider} {consecutiveFailures}: {reason}"); Changed(); }
    public void OnProviderFailover(string from, string to, string reason) { Log.Enqueue($"failover {from}->{to}"); Changed(); }
    public void OnProviderRotated(string provider, string reason, int verbatimTurns, int condensedTurns) { Log.Enqueue($"rotated {provider} {reason} verbatim={verbatimTurns} condensed={condensedTurns}"); Changed(); }

    public int CountLog(string prefix) => Log.Count(l => l.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test with what was seen if it does not within 10 s.</summary>
    public async Task WaitFor(Func<bool> condition, string what, int seconds = 10)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate) _waiters.Add((condition, signal));
        Changed();
        try
        {
            // Signalled by this collector's events; re-checked every 20 ms for conditions on other parties (a server, a grain).
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            while (!signal.Task.IsCompleted && !condition())
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException();
                await Task.WhenAny(signal.Task, Task.Delay(20));
            }
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out waiting for {what}. Seen: {string.Join(" | ", Log)}; errors: {string.Join(",", Errors)}; audio frames: {Audio.Count}; turns: {Turns.Count}");
        }
        finally
        {
            lock (_gate) _waiters.RemoveAll(w => w.Signal == signal);
        }
    }

    private void Changed()
    {
        lock (_gate)
            foreach (var (done, signal) in _waiters)
                if (done()) signal.TrySetResult();
    }
}

/// <summary>Sums a counter's measurements by one tag value, for asserting that errors and drops were counted.</summary>
public sealed class CounterProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _byTag = new();

    public CounterProbe(string instrument, string tag)
    {
        _listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == "VoiceActors" && i.Name == instrument) l.EnableMeasurementEvents(i); };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var t in tags)
                if (t.Key == tag) _byTag.AddOrUpdate(t.Value?.ToString() ?? "", value, (_, v) => v + value);
        });
        _listener.Start();
    }

    public long this[string tagValue] => _byTag.GetValueOrDefault(tagValue);

    public void Dispose() => _listener.Dispose();
}

/// <summary>Collects a histogram's raw values by one tag value (the latency paths).</summary>
public sealed class HistogramProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<double>> _byTag = new();

    public HistogramProbe(string instrument, string tag)
    {
        _listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == "VoiceActors" && i.Name == instrument) l.EnableMeasurementEvents(i); };
        _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var t in tags)
                if (t.Key == tag) _byTag.GetOrAdd(t.Value?.ToString() ?? "", _ => new()).Enqueue(value);
        });
        _listener.Start();
    }

    public double[] this[string tagValue] => _byTag.TryGetValue(tagValue, out var q) ? q.ToArray() : [];

    public void Dispose() => _listener.Dispose();
}
