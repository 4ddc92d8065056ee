using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.PostSession;

/// <summary>Where the interviewer hears that an evaluation is ready (section <c>PostSession:Webhook</c>); no URL, no webhook.</summary>
public sealed class WebhookOptions
{
    public const string Section = "PostSession:Webhook";

    public Uri? Url { get; set; }

    /// <summary>HMAC-SHA256 key shared with the receiver; never logged.</summary>
    public string? Secret { get; set; }

    public int MaxAttempts { get; set; } = 5;

    /// <summary>Pause before the second attempt; doubles for each further one.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

public sealed class WebhookOptionsValidator : OptionsValidator<WebhookOptions>
{
    protected override void Check(string? name, WebhookOptions o, List<string> errors)
    {
        if (o.Url is null) return;
        if (!o.Url.IsAbsoluteUri || o.Url.Scheme is not ("http" or "https")) errors.Add("PostSession:Webhook:Url must be an absolute http(s) URL.");
        if (string.IsNullOrEmpty(o.Secret) || o.Secret.Length < 16) errors.Add("PostSession:Webhook:Secret must be at least 16 characters: it signs every delivery.");
        if (o.MaxAttempts is < 1 or > 20) errors.Add("PostSession:Webhook:MaxAttempts must be between 1 and 20.");
        if (o.InitialBackoff < TimeSpan.Zero) errors.Add("PostSession:Webhook:InitialBackoff cannot be negative.");
        if (o.Timeout <= TimeSpan.Zero) errors.Add("PostSession:Webhook:Timeout must be positive.");
    }
}

/// <summary>
/// POSTs <c>evaluation.completed</c> to the interviewer's endpoint, signed like Stripe's webhooks:
/// <c>X-VoiceActors-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body"&gt;</c>. Retries network errors, 408, 429 and
/// 5xx with exponential backoff; other 4xx answers are final. <c>X-VoiceActors-Event-Id</c> lets the receiver drop duplicates.
/// </summary>
public sealed partial class InterviewerWebhook(IOptions<WebhookOptions> options, TimeProvider clock, ILogger<InterviewerWebhook> logger) : IDisposable
{
    public const string SignatureHeader = "X-VoiceActors-Signature";
    public const string EventIdHeader = "X-VoiceActors-Event-Id";

    private readonly WebhookOptions _options = options.Value;
    private readonly HttpClient _http = new() { Timeout = options.Value.Timeout };

    public bool Enabled => _options.Url is not null;

    public async Task<WebhookResult> NotifyAsync(string tenantId, EvaluationView evaluation, CancellationToken ct = default)
    {
        if (_options.Url is not { } url) return new WebhookResult(false, 0, "no webhook configured");
        var body = JsonSerializer.Serialize(new
        {
            type = "evaluation.completed",
            sessionId = evaluation.SessionId,
            tenantId,
            status = evaluation.Status.ToString(),
            overallScore = evaluation.OverallScore,
            scaleMax = evaluation.ScaleMax,
            failureReason = evaluation.FailureReason,
            evaluatedAt = evaluation.EvaluatedAt,
        });
        var last = "";
        for (var attempt = 1; attempt <= _options.MaxAttempts; attempt++)
        {
            if (attempt > 1) await Task.Delay(_options.InitialBackoff * Math.Pow(2, attempt - 2), clock, ct);
            var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add(SignatureHeader, $"t={timestamp},v1={Sign(_options.Secret!, timestamp, body)}");
            request.Headers.Add(EventIdHeader, $"{evaluation.SessionId}:evaluation");
            try
            {
                using var response = await _http.SendAsync(request, ct);
                if (response.IsSuccessStatusCode) return new WebhookResult(true, attempt, $"HTTP {(int)response.StatusCode}");
                last = $"HTTP {(int)response.StatusCode}";
                if (!Retryable(response.StatusCode)) break;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                last = e is TaskCanceledException ? $"no answer within {_options.Timeout.TotalSeconds:0.#}s" : e.Message;
            }
            LogAttemptFailed(evaluation.SessionId, attempt, _options.MaxAttempts, last); // the URL may carry a token: not logged
        }
        return new WebhookResult(false, _options.MaxAttempts, last);
    }

    public static string Sign(string secret, long timestamp, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));

    private static bool Retryable(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    public void Dispose() => _http.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Interviewer webhook for {SessionId} failed (attempt {Attempt} of {MaxAttempts}): {Reason}")]
    private partial void LogAttemptFailed(string sessionId, int attempt, int maxAttempts, string reason);
}

public sealed record WebhookResult(bool Delivered, int Attempts, string Detail);
