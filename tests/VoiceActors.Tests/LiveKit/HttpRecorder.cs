using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace VoiceActors.Tests.LiveKit;

/// <summary>A real HTTP server (Kestrel on a free port) that records every request and answers as the test says: a fake LiveKit peer.</summary>
public sealed class HttpRecorder : IAsyncDisposable
{
    private readonly WebApplication _app;

    public sealed record Request(string Method, string Path, string? ContentType, string? Authorization, byte[] Body)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Body);
    }

    private HttpRecorder(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }
    public ConcurrentQueue<Request> Requests { get; } = new();

    public static async Task<HttpRecorder> StartAsync(Func<Request, Task<(int Status, string ContentType, string Body)>> answer)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        HttpRecorder? self = null;
        app.Run(async http =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            var request = new Request(http.Request.Method, http.Request.Path.Value ?? "", http.Request.ContentType,
                http.Request.Headers.Authorization.ToString(), buffer.ToArray());
            self!.Requests.Enqueue(request);
            var (status, contentType, body) = await answer(request);
            http.Response.StatusCode = status;
            http.Response.ContentType = contentType;
            await http.Response.WriteAsync(body);
        });
        self = new HttpRecorder(app, new Uri($"http://127.0.0.1:{port}"));
        await app.StartAsync();
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(TimeSpan.FromSeconds(2));
        await _app.DisposeAsync();
    }
}
