using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace VoiceActors.Tests.Providers;

/// <summary>
/// A local WebSocket server speaking the OpenAI Realtime GA event protocol (what the cloud would), so the real adapter can be
/// tested with faults no cloud produces on demand: each accepted connection is handed to <see cref="OnConnection"/>.
/// </summary>
public sealed class FakeRealtimeServer : IAsyncDisposable
{
    private WebApplication? _app;
    private readonly Channel<FakeRealtimeConnection> _accepted = Channel.CreateUnbounded<FakeRealtimeConnection>();

    public int Port { get; private set; }
    public Uri Endpoint => new($"http://127.0.0.1:{Port}/v1");
    public ConcurrentQueue<FakeRealtimeConnection> Connections { get; } = new();

    /// <summary>
    /// The session cap, enforced as OpenAI does at 60 minutes: an <c>error</c> event <c>session_expired</c>, then a close 1001
    /// (going away), with no warning before and no resume after. Null: sessions live as long as the client stays.
    /// </summary>
    public TimeSpan? SessionCap { get; set; }

    /// <summary>What the server does with a connection; by default it acknowledges setup and then just listens.</summary>
    public Func<FakeRealtimeConnection, Task> OnConnection { get; set; } = c => c.ServeSetupAsync();

    public static async Task<FakeRealtimeServer> StartAsync()
    {
        var server = new FakeRealtimeServer { Port = FreePort.Next() };
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{server.Port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.UseWebSockets();
        app.Map("/{**path}", async (HttpContext http) =>
        {
            if (!http.WebSockets.IsWebSocketRequest)
            {
                http.Response.StatusCode = 400;
                return;
            }
            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            var connection = new FakeRealtimeConnection(socket, http.Request.Path + http.Request.QueryString, http.Request.Headers.Authorization.ToString());
            server.Connections.Enqueue(connection);
            server._accepted.Writer.TryWrite(connection);
            if (server.SessionCap is { } cap) _ = connection.ExpireAfterAsync(cap);
            try
            {
                await server.OnConnection(connection);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
        });
        await app.StartAsync();
        server._app = app;
        return server;
    }

    /// <summary>The next connection the server accepts (waits up to 10 s: a real socket is involved).</summary>
    public async Task<FakeRealtimeConnection> NextConnectionAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _accepted.Reader.ReadAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync(TimeSpan.FromSeconds(2));
            await _app.DisposeAsync();
        }
    }
}

/// <summary>One client connection to <see cref="FakeRealtimeServer"/>: what the client sent, and a way to answer it.</summary>
public sealed class FakeRealtimeConnection(WebSocket socket, string pathAndQuery, string authorization)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Channel<JsonObject> _events = Channel.CreateUnbounded<JsonObject>();
    private int _eventId;
    private readonly System.Diagnostics.Stopwatch _age = System.Diagnostics.Stopwatch.StartNew();

    public string PathAndQuery { get; } = pathAndQuery;
    public string Authorization { get; } = authorization;
    public ConcurrentQueue<JsonObject> Received { get; } = new();
    public MemoryStream ReceivedAudio { get; } = new();

    /// <summary>When each audio append arrived (the connection's age): the candidate side of a switch-over, measured at the server.</summary>
    public ConcurrentQueue<TimeSpan> AudioArrivals { get; } = new();

    /// <summary>When the connection was accepted, on the test's clock (<see cref="DateTime.UtcNow"/>).</summary>
    public DateTime AcceptedAtUtc { get; } = DateTime.UtcNow;

    /// <summary>Set once the server expired the session (<see cref="FakeRealtimeServer.SessionCap"/>).</summary>
    public TaskCompletionSource Expired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Acknowledges what a real server acknowledges (session, items) and records every event; returns when the client goes.</summary>
    public async Task ServeSetupAsync(Func<JsonObject, Task>? onEvent = null)
    {
        await SendAsync(new JsonObject
        {
            ["type"] = "session.created",
            ["session"] = new JsonObject { ["type"] = "realtime", ["object"] = "realtime.session", ["id"] = "sess_test", ["model"] = "gpt-realtime" },
        });
        await foreach (var e in ReadAllAsync())
        {
            switch ((string?)e["type"])
            {
                case "session.update":
                    await SendAsync(new JsonObject { ["type"] = "session.updated", ["session"] = e["session"]?.DeepClone() });
                    break;
                case "input_audio_buffer.append":
                    var bytes = Convert.FromBase64String((string)e["audio"]!);
                    lock (ReceivedAudio) ReceivedAudio.Write(bytes);
                    AudioArrivals.Enqueue(_age.Elapsed);
                    break;
            }
            if (onEvent is not null) await onEvent(e);
        }
    }

    public async IAsyncEnumerable<JsonObject> ReadAllAsync()
    {
        var buffer = new byte[64 * 1024];
        while (socket.State == WebSocketState.Open)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            try
            {
                do
                {
                    result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
            }
            catch (WebSocketException)
            {
                break;
            }
            if (result.MessageType == WebSocketMessageType.Close) break;
            var e = JsonNode.Parse(message.ToArray())!.AsObject();
            Received.Enqueue(e);
            _events.Writer.TryWrite(e);
            yield return e;
        }
        Closed.TrySetResult();
    }

    public int Count(string type) => Received.Count(e => (string?)e["type"] == type);

    public IEnumerable<JsonObject> OfType(string type) => Received.Where(e => (string?)e["type"] == type);

    public async Task SendAsync(JsonObject e)
    {
        e["event_id"] ??= $"event_{Interlocked.Increment(ref _eventId)}";
        var bytes = Encoding.UTF8.GetBytes(e.ToJsonString());
        await _sendLock.WaitAsync();
        try
        {
            await socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>A spoken answer: audio deltas, the audio done marker, and the transcript of what was said.</summary>
    public async Task SpeakAsync(byte[] pcm, string transcript, int chunkBytes = 1920)
    {
        for (var i = 0; i < pcm.Length; i += chunkBytes)
        {
            await SendAsync(new JsonObject
            {
                ["type"] = "response.output_audio.delta", ["response_id"] = "resp_1", ["item_id"] = "item_a", ["output_index"] = 0, ["content_index"] = 0,
                ["delta"] = Convert.ToBase64String(pcm, i, Math.Min(chunkBytes, pcm.Length - i)),
            });
        }
        await SendAsync(new JsonObject { ["type"] = "response.output_audio.done", ["response_id"] = "resp_1", ["item_id"] = "item_a", ["output_index"] = 0, ["content_index"] = 0 });
        await SendAsync(new JsonObject
        {
            ["type"] = "response.output_audio_transcript.done", ["response_id"] = "resp_1", ["item_id"] = "item_a", ["output_index"] = 0, ["content_index"] = 0,
            ["transcript"] = transcript,
        });
    }

    /// <summary>The server's VAD heard the candidate start speaking.</summary>
    public Task SpeechStartedAsync(int audioStartMs, string itemId = "item_c") => SendAsync(new JsonObject
    {
        ["type"] = "input_audio_buffer.speech_started", ["audio_start_ms"] = audioStartMs, ["item_id"] = itemId,
    });

    public Task ResponseCreatedAsync(string responseId) => SendAsync(new JsonObject
    {
        ["type"] = "response.created",
        ["response"] = new JsonObject { ["object"] = "realtime.response", ["id"] = responseId, ["status"] = "in_progress", ["output"] = new JsonArray() },
    });

    public Task ResponseDoneAsync(string responseId, string status) => SendAsync(new JsonObject
    {
        ["type"] = "response.done",
        ["response"] = new JsonObject { ["object"] = "realtime.response", ["id"] = responseId, ["status"] = status, ["output"] = new JsonArray() },
    });

    /// <summary>Audio deltas of one item, without the done markers: an answer in progress.</summary>
    public async Task AudioDeltasAsync(string responseId, string itemId, byte[] pcm, int chunkBytes)
    {
        for (var i = 0; i < pcm.Length; i += chunkBytes)
        {
            await SendAsync(new JsonObject
            {
                ["type"] = "response.output_audio.delta", ["response_id"] = responseId, ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0,
                ["delta"] = Convert.ToBase64String(pcm, i, Math.Min(chunkBytes, pcm.Length - i)),
            });
        }
    }

    /// <summary>What the server heard the candidate say.</summary>
    public Task HeardAsync(string transcript) => SendAsync(new JsonObject
    {
        ["type"] = "conversation.item.input_audio_transcription.completed", ["item_id"] = "item_c", ["content_index"] = 0, ["transcript"] = transcript,
        ["usage"] = new JsonObject { ["type"] = "duration", ["seconds"] = 1 },
    });

    public Task ErrorAsync(string code, string message) => SendAsync(new JsonObject
    {
        ["type"] = "error",
        ["error"] = new JsonObject { ["type"] = "server_error", ["code"] = code, ["message"] = message },
    });

    /// <summary>OpenAI's behaviour at the session cap: the error event, then the close (1001), nothing before.</summary>
    public async Task ExpireAfterAsync(TimeSpan cap)
    {
        await Task.Delay(cap);
        if (socket.State != WebSocketState.Open) return;
        try
        {
            await SendAsync(new JsonObject
            {
                ["type"] = "error",
                ["error"] = new JsonObject
                {
                    ["type"] = "invalid_request_error", ["code"] = "session_expired",
                    ["message"] = $"Your session hit the maximum duration of {cap.TotalSeconds:0.#} seconds.",
                },
            });
            await _sendLock.WaitAsync();
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "session expired", CancellationToken.None); // 1001
            }
            finally
            {
                _sendLock.Release();
            }
            Expired.TrySetResult();
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            // the client went first
        }
    }

    /// <summary>Mid-stream drop: the TCP connection dies without a close handshake.</summary>
    public void Drop() => socket.Abort();
}
