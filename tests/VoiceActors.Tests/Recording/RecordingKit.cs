using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using VoiceActors.Media;
using VoiceActors.Recording;
using VoiceActors.Tests.Sessions;

namespace VoiceActors.Tests.Recording;

[CollectionDefinition(Name)]
public sealed class RecordingCollection : ICollectionFixture<RecordingSystem>
{
    public const string Name = "recording (real RADOS Gateway)";
}

/// <summary>One real RADOS Gateway and one embedded silo recording into it (2 s chunks), shared by the recording tests.</summary>
public sealed class RecordingSystem : IAsyncLifetime
{
    public const string KeyC = "test-key-tenant-c"; // tenant-c's retention is 5 s: the retention test's tenant

    public RadosGateway Rgw { get; } = new();

    public EmbeddedSystem System { get; private set; } = null!;

    public IGrainFactory Grains => System.Services.GetRequiredService<IGrainFactory>();

    public async Task InitializeAsync()
    {
        await Rgw.InitializeAsync();
        System = new EmbeddedSystem();
        foreach (var (k, v) in Rgw.Settings()) System.With(k, v);
        System.With("Recordings:ChunkDuration", "00:00:02")
            .With("Gateway:ApiKeys:2:Key", KeyC).With("Gateway:ApiKeys:2:Tenant", "tenant-c")
            .With("PostSession:Retention:Tenants:tenant-c", "00:00:05")
            .With("PostSession:Retention:CheckPeriod", "00:00:01");
        _ = System.Services; // starts the host
    }

    public async Task DisposeAsync()
    {
        if (System is not null) await System.DisposeAsync();
        await Rgw.DisposeAsync();
    }
}

/// <summary>What the recording tests do: interviews over HTTP, candidate speech at real time, the served file checked by opus-tools.</summary>
internal static class RecordingKit
{
    /// <summary>Candidate "speech": 200 ms stretches of tones, each its own pitch and level, all above the speech level (no pause, no answer).</summary>
    public static byte[] Speech(double seconds, int seed)
    {
        var random = new Random(seed);
        var samples = (int)(seconds * AudioFormat.SampleRate);
        var pcm = new byte[samples * 2];
        for (var start = 0; start < samples; start += 4800)
        {
            var hertz = 200 + random.Next(0, 900);
            var amplitude = 2500 + random.Next(0, 9000);
            for (var i = start; i < Math.Min(samples, start + 4800); i++)
            {
                var s = (short)(amplitude * Math.Sin(2 * Math.PI * hertz * i / AudioFormat.SampleRate));
                pcm[2 * i] = (byte)s;
                pcm[2 * i + 1] = (byte)(s >> 8);
            }
        }
        return pcm;
    }

    public static async Task<string> CreateAsync(HttpClient client, bool recording, bool transcription = true)
    {
        var response = await client.PostAsJsonAsync("/v1/interviews", new
        {
            candidateId = "cand-rec",
            jobId = "job-rec",
            consent = new { recording, transcription, aiEvaluation = false },
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetString()!;
    }

    /// <summary>Pushes <paramref name="pcm"/> as 20 ms frames at real time; returns the frames the session accepted.</summary>
    public static async Task<int> SpeakAsync(ISessionMediaGrain media, byte[] pcm, Func<int, Task>? everySecond = null)
    {
        var clock = Stopwatch.StartNew();
        var frames = pcm.Length / AudioFormat.FrameBytes;
        var accepted = 0;
        for (var i = 0; i < frames; i++)
        {
            var due = TimeSpan.FromMilliseconds(20 * i) - clock.Elapsed;
            if (due > TimeSpan.Zero) await Task.Delay(due);
            var frame = pcm.AsSpan(i * AudioFormat.FrameBytes, AudioFormat.FrameBytes).ToArray();
            try
            {
                await media.PushCandidateAudio(new AudioFrame(i, DateTime.UtcNow.Ticks, frame)).WaitAsync(TimeSpan.FromSeconds(2));
                accepted++;
            }
            catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException or OrleansException)
            {
                // the silo hosting the session died: frames until it resumes elsewhere reach nobody
            }
            if (everySecond is not null && i % 50 == 49) await everySecond(i / 50);
        }
        return accepted;
    }

    /// <summary>GET the recording until it is served (the post-session pipeline records the end first: slow on a loaded CI machine).</summary>
    public static Task<HttpResponseMessage> WaitServedAsync(HttpClient client, string id) =>
        Eventually.ValueAsync(() => client.GetAsync($"/v1/interviews/{id}/recording"), r => r.StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), r => $"recording still {r?.StatusCode} after 60 s");

    /// <summary>Runs <c>opusinfo</c> on the file; returns its playback length in seconds and its output.</summary>
    public static async Task<(double Seconds, string Output)> OpusInfoAsync(byte[] ogg)
    {
        var path = Path.Combine(Path.GetTempPath(), $"va-rec-{Guid.NewGuid():N}.opus");
        await File.WriteAllBytesAsync(path, ogg);
        try
        {
            await using var process = ChildProcess.Start("opusinfo", [path], name: "opusinfo");
            await process.WaitForExitAsync();
            var output = process.Output;
            Assert.True(process.Process.ExitCode == 0, $"opusinfo refused the file:\n{output}");
            Assert.DoesNotContain("WARNING", output, StringComparison.OrdinalIgnoreCase);
            var m = Regex.Match(output, @"Playback length:\s*(\d+)m:(\d+(?:\.\d+)?)s");
            Assert.True(m.Success, $"no playback length in:\n{output}");
            return (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 60 + double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Decodes the served file with Concentus (not the server's reader): both channels, pre-skip removed.</summary>
    public static (short[] Candidate, short[] Agent) Decode(byte[] ogg)
    {
        var pages = OggOpus.Pages(ogg).ToArray();
        var head = OggOpus.Packets(ogg, pages[0]).First().ToArray();
        Assert.Equal("OpusHead", System.Text.Encoding.ASCII.GetString(head, 0, 8));
        Assert.Equal(2, head[9]);
        var skip = BitConverter.ToUInt16(head, 10) / 2;
        var decoder = RecordingCodec.Decoder();
        var buffer = new short[5760 * 2];
        var candidate = new List<short>();
        var agent = new List<short>();
        foreach (var page in pages.Skip(2))
        {
            foreach (var packet in OggOpus.Packets(ogg, page))
            {
                var n = decoder.DecodeMultistream(packet.Span, buffer, 2880, false);
                for (var i = 0; i < n; i++)
                {
                    if (skip > 0) { skip--; continue; }
                    candidate.Add(buffer[2 * i]);
                    agent.Add(buffer[2 * i + 1]);
                }
            }
        }
        return (candidate.ToArray(), agent.ToArray());
    }

    public static short[] Samples(byte[] pcm)
    {
        var s = new short[pcm.Length / 2];
        Buffer.BlockCopy(pcm, 0, s, 0, s.Length * 2);
        return s;
    }

    /// <summary>
    /// How well the decoded channel gives back what was sent: the best Pearson correlation of the 20 ms loudness envelopes over
    /// lags up to a second, and at that lag the best waveform correlation within a frame either side.
    /// </summary>
    public static (double Envelope, double Waveform, int LagSamples) Correlate(short[] sent, short[] decoded)
    {
        var a = Envelope(sent);
        var b = Envelope(decoded);
        var (bestEnvelope, bestLag) = (-1.0, 0);
        for (var lag = -10; lag <= 50; lag++)
        {
            var r = Pearson(i => a[i], i => b[i + lag], Math.Max(0, -lag), Math.Min(a.Length, b.Length - lag));
            if (r > bestEnvelope) (bestEnvelope, bestLag) = (r, lag);
        }
        var (bestWave, bestOffset) = (-1.0, 0);
        for (var d = bestLag * 480 - 480; d <= bestLag * 480 + 480; d++)
        {
            var r = Pearson(i => sent[i], i => decoded[i + d], Math.Max(0, -d), Math.Min(sent.Length, decoded.Length - d));
            if (r > bestWave) (bestWave, bestOffset) = (r, d);
        }
        return (bestEnvelope, bestWave, bestOffset);
    }

    /// <summary>The 20 ms loudness (RMS) envelope.</summary>
    public static double[] Envelope(short[] s)
    {
        var e = new double[s.Length / 480];
        for (var f = 0; f < e.Length; f++)
        {
            double sum = 0;
            for (var i = 0; i < 480; i++) sum += (double)s[f * 480 + i] * s[f * 480 + i];
            e[f] = Math.Sqrt(sum / 480);
        }
        return e;
    }

    public static double Pearson(Func<int, double> x, Func<int, double> y, int from, int to)
    {
        if (to - from < 10) return -1;
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        var n = to - from;
        for (var i = from; i < to; i++)
        {
            double a = x(i), b = y(i);
            sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b;
        }
        var cov = sxy - sx * sy / n;
        var den = Math.Sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
        return den == 0 ? 0 : cov / den;
    }
}
