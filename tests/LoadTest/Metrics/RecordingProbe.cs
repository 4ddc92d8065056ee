using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace VoiceActors.LoadTest.Metrics;

/// <summary>
/// The in-process silo's recorder counters (<c>voice_recording_*</c>) summed over the plateau: from the first measurement
/// after the warm-up to <see cref="Freeze"/> (the sessions are told to stop then, and the end-of-session flush is left out).
/// The encoder threads and the sealer measure their own CPU time, so the per-session cost is the recorder's alone, not the
/// tester's or the rest of the silo's.
/// </summary>
public sealed class RecordingProbe : IDisposable
{
    private readonly Func<bool> _measuring;
    private readonly Func<double>? _storeCpuSeconds;
    private double _storeCpuFrom;
    private double _storeCpuTo;
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _sums = new(StringComparer.Ordinal);
    private long _from;
    private long _to;

    /// <param name="storeCpuSeconds">CPU seconds the object store's processes have used so far, when the tester runs the store.</param>
    public RecordingProbe(Func<bool> measuring, Func<double>? storeCpuSeconds = null)
    {
        _measuring = measuring;
        _storeCpuSeconds = storeCpuSeconds;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SiloLatencyProbe.MeterName && instrument.Name.StartsWith("voice_recording_", StringComparison.Ordinal))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((i, v, _, _) => Add(i.Name, v));
        _listener.SetMeasurementEventCallback<long>((i, v, _, _) => Add(i.Name, v));
        _listener.Start();
    }

    private void Add(string name, double value)
    {
        if (!_measuring() || Volatile.Read(ref _to) != 0) return;
        if (Volatile.Read(ref _from) == 0 && Interlocked.CompareExchange(ref _from, Stopwatch.GetTimestamp(), 0) == 0)
            _storeCpuFrom = _storeCpuSeconds?.Invoke() ?? 0;
        _sums.AddOrUpdate(name, value, (_, sum) => sum + value);
    }

    /// <summary>The plateau is over: later measurements are not counted.</summary>
    public void Freeze()
    {
        if (Interlocked.CompareExchange(ref _to, Stopwatch.GetTimestamp(), 0) == 0 && _from != 0) _storeCpuTo = _storeCpuSeconds?.Invoke() ?? 0;
    }

    public RecordingFigures Summarize(int sessions)
    {
        Freeze();
        var seconds = _from == 0 ? 0 : Stopwatch.GetElapsedTime(_from, _to).TotalSeconds;
        double Sum(string name) => _sums.GetValueOrDefault(name);
        var encode = Sum("voice_recording_encode_cpu_seconds");
        var seal = Sum("voice_recording_seal_cpu_seconds");
        // Per second of audio actually encoded (50 frames), not per wall second: an overloaded run encodes less than real time.
        var audioSeconds = Sum("voice_recording_frames_encoded") / 50;
        var perSession = audioSeconds > 0 ? (encode + seal) * 1000 / audioSeconds : 0;
        // The worker's whole process: encoding and sealing plus storing (the AWSSDK.S3 calls or file writes), reading the pipe, GC.
        var worker = Sum("voice_recording_worker_cpu_seconds");
        var workerPerSession = audioSeconds > 0 ? worker * 1000 / audioSeconds : 0;
        double? store = _storeCpuSeconds is null ? null : Math.Max(0, _storeCpuTo - _storeCpuFrom);
        return new RecordingFigures(Math.Round(seconds, 1), sessions, Math.Round(audioSeconds, 1), Math.Round(encode, 3), Math.Round(seal, 3), Math.Round(perSession, 3),
            perSession > 0 ? Math.Round(1000 / perSession, 0) : 0,
            (long)Sum("voice_recording_chunks_stored"), (long)Sum("voice_recording_chunks_dropped"),
            (long)Sum("voice_recording_frames_dropped"), (long)Sum("voice_recording_store_errors"),
            Math.Round(worker, 3), Math.Round(workerPerSession, 3),
            store is { } st ? Math.Round(st, 3) : null, store is { } st2 && audioSeconds > 0 ? Math.Round(st2 * 1000 / audioSeconds, 3) : null);
    }

    public void Dispose() => _listener.Dispose();
}

/// <param name="AudioSeconds">Seconds of recording (both channels) encoded over the plateau, all sessions together.</param>
/// <param name="CpuMsPerSessionSecond">Encoder-thread plus sealing CPU per second of one session's recording, in milliseconds.</param>
/// <param name="SessionsPerRecordingCore">How many sessions one core could record at that cost (encode + seal only).</param>
/// <param name="WorkerCpuMsPerSessionSecond">The recording worker process' whole CPU (encode + seal + store + pipe + GC) per second of audio.</param>
/// <param name="StoreCpuMsPerSessionSecond">The object store's own processes (the tester's RADOS Gateway), per second of audio; null without one.</param>
public sealed record RecordingFigures(
    double Seconds, int Sessions, double AudioSeconds, double EncodeCpuS, double SealCpuS, double CpuMsPerSessionSecond, double SessionsPerRecordingCore,
    long ChunksStored, long ChunksDropped, long FramesDropped, long StoreErrors,
    double WorkerCpuS = 0, double WorkerCpuMsPerSessionSecond = 0, double? StoreCpuS = null, double? StoreCpuMsPerSessionSecond = null);
