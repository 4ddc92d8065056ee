using Microsoft.Extensions.Options;

namespace VoiceActors.Regions;

/// <summary>Is a region's LiveKit reachable? Any HTTP answer from its base URL counts: LiveKit answers "OK" on <c>/</c>.</summary>
public sealed class RegionProbe(IOptions<RegionHealthOptions> options) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<string?> ProbeLiveKitAsync(string url, CancellationToken ct)
    {
        var http = url.StartsWith("wss://", StringComparison.OrdinalIgnoreCase) ? "https://" + url[6..]
            : url.StartsWith("ws://", StringComparison.OrdinalIgnoreCase) ? "http://" + url[5..]
            : url;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.ProbeTimeout);
        try
        {
            using var response = await _http.GetAsync(http, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            return (int)response.StatusCode >= 500 ? $"LiveKit answered {(int)response.StatusCode}" : null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"LiveKit did not answer within {options.Value.ProbeTimeout.TotalSeconds:0.#}s";
        }
        catch (HttpRequestException e)
        {
            return $"LiveKit unreachable ({e.HttpRequestError})";
        }
    }

    public void Dispose() => _http.Dispose();
}
