using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using VoiceActors.Media;
using VoiceActors.Tests.Media;

namespace VoiceActors.Tests.EndToEnd;

public sealed class AudioSystemFixture : IDisposable
{
    public AudioSystem System { get; } = new(new Dictionary<string, string?>
    {
        ["MediaSocket:ClientSendTimeout"] = "00:00:01",
        ["Providers:Simulated:ResponseDuration"] = "00:00:00.600",
    });

    public void Dispose() => System.Dispose();
}

[CollectionDefinition(Name)]
public sealed class AudioSystemCollection : ICollectionFixture<AudioSystemFixture>
{
    public const string Name = "audio system";
}

/// <summary>The media socket of the embedded-default system, driven by a raw WebSocket client the way the page and a bridge use it.</summary>
[Collection(AudioSystemCollection.Name)]
public sealed class MediaSocketTests(AudioSystemFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
{
    private readonly AudioSystem _system = fixture.System;

    [Fact]
    public async Task Audio_round_trip_brings_provider_audio_and_transcripts_and_the_session_goes_active()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        using var socket = await _system.ConnectMediaAsync(id, token);
        Assert.Equal("voiceactors.media.v1", socket.SubProtocol);
        var client = new Reader(socket);

        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20)); // a client sends at real time
        var speech = AudioPathTests.Speech();
        var silence = AudioPathTests.Silence();
        for (var i = 0; i < 400 && client.Texts.Count(t => t.Contains("\"agent\"")) == 0; i++)
        {
            await socket.SendAsync(i < 50 ? speech : silence, WebSocketMessageType.Binary, true, CancellationToken.None);
            await tick.WaitForNextTickAsync();
        }

        Assert.Equal(30, client.Audio.Count); // 600 ms of answer in 20 ms frames
        Assert.All(client.Audio, f => Assert.Equal(AudioFormat.FrameBytes, f.Length));
        var transcripts = client.Texts.Select(t => JsonDocument.Parse(t).RootElement).Where(e => e.GetProperty("type").GetString() == "transcript").ToArray();
        Assert.Equal(["candidate", "agent"], transcripts.Select(t => t.GetProperty("speaker").GetString()));
        await AudioSystem.Eventually(async () => (await _system.GetInterviewAsync(id)).GetProperty("state").GetString() == "Active",
            "the session to go active through the stand-in's webhooks (candidate socket + agent provider)");
        var session = await _system.GetInterviewAsync(id);
        Assert.Equal(2, session.GetProperty("turns").GetInt32());
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task Frames_of_the_wrong_size_or_type_are_answered_with_an_error_and_not_forwarded()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        using var socket = await _system.ConnectMediaAsync(id, token);
        var client = new Reader(socket);

        await socket.SendAsync(new byte[959], WebSocketMessageType.Binary, true, CancellationToken.None);
        await socket.SendAsync(new byte[4000], WebSocketMessageType.Binary, true, CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"hello\":1}"), WebSocketMessageType.Text, true, CancellationToken.None);
        await socket.SendAsync(new byte[AudioFormat.FrameBytes], WebSocketMessageType.Binary, true, CancellationToken.None);

        await AudioSystem.Eventually(() => Task.FromResult(client.Texts.Count == 3), "three error messages");
        Assert.All(client.Texts, t => Assert.Contains("\"invalid_frame\"", t));
        Assert.Contains("960 bytes", client.Texts.First());
        var counters = Assert.Single(_system.Sockets.Of(id)).Counters;
        Assert.Equal(3, counters.MessagesInvalid);
        Assert.Equal(1, counters.FramesReceived);
        var grain = _system.Services.GetService(typeof(IGrainFactory)) as IGrainFactory;
        await AudioSystem.Eventually(async () => (await grain!.GetGrain<IInterviewSessionGrain>(id).Get("local")).Media?.FramesReceived == 1,
            "exactly the one good frame at the session");
    }

    [Fact]
    public async Task A_token_for_another_room_no_token_or_a_plain_request_is_refused_before_the_upgrade()
    {
        var (id, _) = await _system.CreateInterviewAsync();
        var (_, otherToken) = await _system.CreateInterviewAsync();

        Assert.Equal(HttpStatusCode.Forbidden, await RefusedWith(id, otherToken));
        Assert.Equal(HttpStatusCode.Unauthorized, await RefusedWith(id, null));
        Assert.Equal(HttpStatusCode.Unauthorized, await RefusedWith(id, "not-a-jwt"));
        using var http = new HttpClient { BaseAddress = _system.BaseAddress };
        var plain = await http.GetAsync($"/v1/interviews/{id}/media");
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Equal("application/problem+json", plain.Content.Headers.ContentType?.MediaType);
        Assert.Empty(_system.Sockets.Of(id));
    }

    [Fact]
    public async Task A_flood_faster_than_real_time_is_rate_limited_counted_and_never_queued()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        using var socket = await _system.ConnectMediaAsync(id, token);
        await AudioSystem.Eventually(() => Task.FromResult(_system.Sockets.Of(id).Count == 1), "the socket to be registered");
        var started = DateTime.UtcNow;
        var frame = AudioPathTests.Silence();
        for (var i = 0; i < 500; i++) await socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);
        var elapsed = DateTime.UtcNow - started;

        await AudioSystem.Eventually(() => Task.FromResult(_system.Sockets.Of(id).Single().Counters.FramesReceived == 500), "all 500 frames read");
        var counters = _system.Sockets.Of(id).Single().Counters;
        var allowed = 50 + (elapsed.TotalSeconds + 0.5) * 50; // the one-second burst plus real time, with slack for the read loop
        Assert.InRange(500 - counters.FramesRateLimited, 50, (long)allowed);
        Assert.True(counters.FramesRateLimited >= 500 - (long)allowed, $"{counters.FramesRateLimited} rate-limited in {elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task A_client_that_never_reads_costs_bounded_memory_and_is_cut_off()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        using var socket = await _system.ConnectMediaAsync(id, token); // never receives
        await AudioSystem.Eventually(() => Task.FromResult(_system.Sockets.Of(id).Count == 1), "the socket to be registered");
        var media = Assert.Single(_system.Sockets.Of(id));
        var sink = (IAudioSink)media;
        var pcm = new byte[AudioFormat.FrameBytes];
        var maxQueued = 0;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        for (var i = 0; _system.Sockets.Of(id).Count == 1 && DateTime.UtcNow < deadline; i++) // until the socket buffers fill and the server gives up
        {
            await sink.OnProviderAudio(new AudioFrame(i, DateTime.UtcNow.Ticks, pcm));
            maxQueued = Math.Max(maxQueued, media.Counters.QueuedForClient);
            if (i % 50 == 0) await Task.Delay(1); // let the send loop run, as the provider's real-time pacing would
        }

        Assert.InRange(maxQueued, 0, 25);
        Assert.True(media.Counters.FramesDroppedForClient > 0, "a stuck client's frames are dropped, oldest first");
        await AudioSystem.Eventually(() => Task.FromResult(_system.Sockets.Of(id).Count == 0), "the stuck socket to be aborted after the send timeout");
    }

    [Fact]
    public async Task Provider_frames_that_overtake_each_other_reach_the_client_in_sequence()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        using var socket = await _system.ConnectMediaAsync(id, token);
        var client = new Reader(socket);
        await AudioSystem.Eventually(() => Task.FromResult(_system.Sockets.Of(id).Count == 1), "the socket to be registered");
        var sink = (IAudioSink)_system.Sockets.Of(id).Single();

        foreach (var sequence in new long[] { 1, 3, 2, 5, 4, 6, 2 }) // 2 arrives again, after its moment: dropped
        {
            var pcm = new byte[AudioFormat.FrameBytes];
            pcm[0] = (byte)sequence;
            await sink.OnProviderAudio(new AudioFrame(sequence, DateTime.UtcNow.Ticks, pcm));
        }

        await AudioSystem.Eventually(() => Task.FromResult(client.Audio.Count >= 6), "six frames at the client");
        await Task.Delay(200); // a duplicate would arrive right behind; a real socket, so real time must pass to prove a negative
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, client.Audio.Select(a => a[0]).ToArray());
    }

    [Fact]
    public async Task Speaking_over_the_agent_stops_its_audio_at_the_client_within_100_ms_and_lands_on_the_timeline()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        using var socket = await _system.ConnectMediaAsync(id, token);
        var client = new Reader(socket);
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20)); // a client sends at real time
        var speech = AudioPathTests.Speech();
        var silence = AudioPathTests.Silence();

        // One second of speech, then quiet until the agent's 600 ms answer has been arriving for 100 ms.
        for (var i = 0; i < 400 && client.Audio.Count < 5; i++)
        {
            await socket.SendAsync(i < 50 ? speech : silence, WebSocketMessageType.Binary, true, CancellationToken.None);
            await tick.WaitForNextTickAsync();
        }
        Assert.True(client.Audio.Count >= 5, "the answer started");
        Assert.DoesNotContain(client.Texts, t => t == "{\"type\":\"barge_in\"}"); // speaking into silence was no barge-in

        // The candidate talks over the answer for 800 ms. The provider's onset is its 5th loud frame (MinSpeech 100 ms).
        var firstLoud = 0L;
        var onset = 0L;
        for (var k = 0; k < 40; k++)
        {
            if (k == 0) firstLoud = Stopwatch.GetTimestamp();
            if (k == 4) onset = Stopwatch.GetTimestamp();
            await socket.SendAsync(speech, WebSocketMessageType.Binary, true, CancellationToken.None);
            await tick.WaitForNextTickAsync();
        }

        var log = client.Log.ToArray();
        var bargeIn = Array.FindIndex(log, e => e.Text == "{\"type\":\"barge_in\"}");
        Assert.True(bargeIn >= 0, "the page was told to stop its scheduled audio");
        var agentFrames = log.Count(e => e.Text is null);
        Assert.True(agentFrames < 30, $"the 600 ms answer was cut: {agentFrames} of 30 frames arrived");
        Assert.DoesNotContain(log.Skip(bargeIn), e => e.Text is null); // nothing of the cut answer after the stop
        var lastAudio = log.Take(bargeIn).Last(e => e.Text is null).At;
        var stopped = Math.Max(lastAudio, log[bargeIn].At);
        var fromOnset = Stopwatch.GetElapsedTime(onset, stopped).TotalMilliseconds;
        var fromFirstLoud = Stopwatch.GetElapsedTime(firstLoud, stopped).TotalMilliseconds;
        output.WriteLine($"barge-in: agent audio stopped at the client {fromOnset:0.0} ms after the provider's speech onset " +
            $"({fromFirstLoud:0.0} ms after the first loud frame, which includes the 100 ms onset detection); {agentFrames} of 30 frames arrived");
        Assert.True(fromOnset <= 100, $"stopped {fromOnset:0.0} ms after speech start");

        var counters = Assert.Single(_system.Sockets.Of(id)).Counters;
        Assert.Equal(1, counters.BargeIns);
        var grains = (IGrainFactory)_system.Services.GetService(typeof(IGrainFactory))!;
        await AudioSystem.Eventually(async () => (await grains.GetGrain<IInterviewSessionGrain>(id).GetTimeline("local")).Any(e => e.Kind == TimelineKinds.BargeIn),
            "barge_in on the session's timeline");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    /// <summary>Reads everything the server sends, in the background.</summary>
    private sealed class Reader
    {
        public ConcurrentQueue<byte[]> Audio { get; } = new();
        public ConcurrentQueue<string> Texts { get; } = new();

        /// <summary>Every message as it arrived: when (Stopwatch ticks), and its text (null: an audio frame).</summary>
        public ConcurrentQueue<(long At, string? Text)> Log { get; } = new();

        public Reader(WebSocket socket) => _ = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (socket.State == WebSocketState.Open)
                {
                    var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close) return;
                    var at = Stopwatch.GetTimestamp();
                    if (result.MessageType == WebSocketMessageType.Text)
                    {
                        var text = Encoding.UTF8.GetString(buffer, 0, result.Count);
                        Texts.Enqueue(text);
                        Log.Enqueue((at, text));
                    }
                    else
                    {
                        Audio.Enqueue(buffer[..result.Count]);
                        Log.Enqueue((at, null));
                    }
                }
            }
            catch (WebSocketException)
            {
            }
        });
    }

    private async Task<HttpStatusCode> RefusedWith(string id, string? token)
    {
        var e = await Assert.ThrowsAsync<WebSocketException>(() => _system.ConnectMediaAsync(id, token));
        _ = e;
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.AddSubProtocol("voiceactors.media.v1");
        if (token is not null) socket.Options.AddSubProtocol("access_token." + token);
        try
        {
            await socket.ConnectAsync(new UriBuilder(_system.BaseAddress) { Scheme = "ws", Path = $"/v1/interviews/{id}/media" }.Uri, CancellationToken.None);
        }
        catch (WebSocketException)
        {
        }
        return socket.HttpStatusCode;
    }
}
