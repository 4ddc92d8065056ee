using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace VoiceActors.Tests.PostSession;

/// <summary>A real HTTP server on a free port whose answer to the n-th request (1-based) the test decides; every request is kept.</summary>
public sealed class LocalHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    public ConcurrentQueue<(string Path, IHeaderDictionary Headers, string Body)> Requests { get; } = new();
    public Uri BaseUri { get; }
    public int RequestCount => Volatile.Read(ref _requests);

    private LocalHttpServer(WebApplication app, Uri baseUri) => (_app, BaseUri) = (app, baseUri);

    public static async Task<LocalHttpServer> StartAsync(Func<int, HttpContext, Task> respond)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new LocalHttpServer(app, new Uri($"http://127.0.0.1:{port}/"));
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            server.Requests.Enqueue((context.Request.Path, new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value)), body));
            await respond(Interlocked.Increment(ref server._requests), context);
        });
        await app.StartAsync();
        return server;
    }

    /// <summary>A chat-completions answer (<c>POST /v1/chat/completions</c>) whose message content is <paramref name="content"/>.</summary>
    public static Task ChatCompletion(HttpContext context, string content) => context.Response.WriteAsJsonAsync(new
    {
        id = "chatcmpl-test",
        @object = "chat.completion",
        created = 1764061200,
        model = "gpt-4o-mini",
        choices = new[] { new { index = 0, message = new { role = "assistant", content, refusal = (string?)null }, logprobs = (object?)null, finish_reason = "stop" } },
        usage = new { prompt_tokens = 100, completion_tokens = 50, total_tokens = 150 },
    });

    public static string Scores(params (string Name, double Score, string Quote)[] criteria) => JsonSerializer.Serialize(new
    {
        criteria = criteria.Select(c => new { name = c.Name, score = c.Score, evidence = new[] { c.Quote }, rationale = "fits" }),
    });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(TimeSpan.FromSeconds(2));
        await _app.DisposeAsync();
    }
}
