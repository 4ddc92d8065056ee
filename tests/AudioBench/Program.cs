using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using VoiceActors.Media;
using VoiceActors.Sessions;
using VoiceActors.Silo.Hosting;

// Server-added audio latency with the simulated provider: N sessions in one embedded silo, each pushing 20 ms frames at
// real time (1 s of speech, then 1.5 s of pause, repeated) and receiving the agent's audio on an attached sink, exactly as
// the load tester drives grains. Latencies come from the silo's own voice_audio_latency_ms histogram (raw values through a
// MeterListener), plus "delivered": provider audio received -> arrived at the sink (includes the Orleans observer hop).
//   dotnet run -c Release --project tests/AudioBench -- --sessions 50 --seconds 30
var sessions = Arg("--sessions", 50);
var seconds = Arg("--seconds", 30);
const int warmupSeconds = 3;

var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Error);
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(FreePort(), FreePort());
    silo.AddVoiceActorsGrains(builder.Configuration);
});
using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IGrainFactory>();

var samples = new ConcurrentDictionary<string, ConcurrentBag<double>>();
var measuring = false;
using var listener = new MeterListener();
listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == "VoiceActors" && i.Name == "voice_audio_latency_ms") l.EnableMeasurementEvents(i); };
listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
{
    if (!Volatile.Read(ref measuring)) return;
    foreach (var t in tags)
        if (t.Key == "path") samples.GetOrAdd((string)t.Value!, _ => []).Add(value);
});
listener.Start();

var speech = Pcm(4000);
var silence = new byte[AudioFormat.FrameBytes];
var stop = DateTime.UtcNow.AddSeconds(seconds);
var received = 0L;
var sent = 0L;
var runs = Enumerable.Range(0, sessions).Select(async n =>
{
    var id = SessionIds.New();
    var session = grains.GetGrain<IInterviewSessionGrain>(id);
    await session.Create(new CreateSession("bench", $"cand-{n}", "job", ProviderSettings.Default, ConsentFlags.None, "local"));
    var sink = new BenchSink(samples, () => Volatile.Read(ref measuring), () => Interlocked.Increment(ref received));
    var reference = grains.CreateObjectReference<IAudioSink>(sink);
    var media = grains.GetGrain<ISessionMediaGrain>(id);
    await media.AttachMedia(reference);
    await Task.Delay(20 * n % 2500); // spread the sessions' turns over the cycle
    using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(AudioFormat.FrameMilliseconds));
    for (long i = 0; DateTime.UtcNow < stop; i++)
    {
        var pcm = i % 125 < 50 ? speech : silence; // 1 s speech, 1.5 s pause
        await media.PushCandidateAudio(new AudioFrame(i, DateTime.UtcNow.Ticks, pcm));
        Interlocked.Increment(ref sent);
        await tick.WaitForNextTickAsync();
    }
    await session.Complete("bench", "benchmark over");
    grains.DeleteObjectReference<IAudioSink>(reference);
    GC.KeepAlive(sink); // Orleans holds observers weakly: the sink must live as long as its session
}).ToArray();

await Task.Delay(TimeSpan.FromSeconds(warmupSeconds));
Volatile.Write(ref measuring, true);
await Task.WhenAll(runs);
Volatile.Write(ref measuring, false);
await host.StopAsync();

Console.WriteLine($"{sessions} sessions, {seconds} s ({warmupSeconds} s warm-up excluded), {sent} frames pushed, {received} provider frames delivered, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| path | frames | p50 ms | p95 ms | p99 ms | max ms |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|");
foreach (var path in new[] { "inbound", "outbound", "delivered", "turn" })
{
    if (!samples.TryGetValue(path, out var bag) || bag.IsEmpty) continue;
    var v = bag.ToArray();
    Array.Sort(v);
    Console.WriteLine($"| {path} | {v.Length} | {P(v, 0.50):0.000} | {P(v, 0.95):0.000} | {P(v, 0.99):0.000} | {v[^1]:0.000} |");
}

static double P(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

static byte[] Pcm(short amplitude)
{
    var pcm = new byte[AudioFormat.FrameBytes];
    for (var i = 0; i < AudioFormat.SamplesPerFrame; i++)
    {
        var s = (short)(amplitude * Math.Sin(2 * Math.PI * 220 * i / AudioFormat.SampleRate));
        pcm[2 * i] = (byte)s;
        pcm[2 * i + 1] = (byte)(s >> 8);
    }
    return pcm;
}

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
}

/// <summary>The client end: counts provider frames and measures their delivery (provider receipt -> here).</summary>
sealed class BenchSink(ConcurrentDictionary<string, ConcurrentBag<double>> samples, Func<bool> measuring, Action onFrame) : IAudioSink
{
    public Task OnProviderAudio(AudioFrame frame)
    {
        onFrame();
        if (measuring()) samples.GetOrAdd("delivered", _ => []).Add((DateTime.UtcNow.Ticks - frame.SentAtUtcTicks) / (double)TimeSpan.TicksPerMillisecond);
        return Task.CompletedTask;
    }

    public Task OnTranscript(Turn turn) => Task.CompletedTask;
}
