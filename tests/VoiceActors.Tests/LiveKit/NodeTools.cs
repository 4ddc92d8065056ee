namespace VoiceActors.Tests.LiveKit;

/// <summary>
/// Runs the official LiveKit npm libraries (tests/tools/lk.js, versions pinned in tests/tools/package-lock.json) through node.
/// test.sh installs them with <c>npm ci</c>; a missing install is a test failure, not a skip.
/// </summary>
public static class NodeTools
{
    private static readonly Lazy<string> ToolsDirectory = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var tools = Path.Combine(dir.FullName, "tests", "tools");
            if (File.Exists(Path.Combine(tools, "lk.js")))
            {
                if (!Directory.Exists(Path.Combine(tools, "node_modules", "livekit-server-sdk")))
                    throw new InvalidOperationException($"The LiveKit npm packages are not installed: run 'npm ci' in {tools} (test.sh does).");
                return tools;
            }
        }
        throw new InvalidOperationException("tests/tools/lk.js not found above " + AppContext.BaseDirectory);
    });

    /// <summary>Runs a command; returns its JSON output. Throws <see cref="NodeToolException"/> when the official code refused.</summary>
    public static async Task<JsonElement> RunAsync(string command, object input)
    {
        var (ok, output) = await TryRunAsync(command, input);
        if (!ok) throw new NodeToolException(command, output.TryGetProperty("error", out var e) ? e.GetString() ?? "" : output.ToString());
        return output;
    }

    public static async Task<(bool Ok, JsonElement Output)> TryRunAsync(string command, object input)
    {
        var info = new ProcessStartInfo("node")
        {
            ArgumentList = { "lk.js", command },
            WorkingDirectory = ToolsDirectory.Value,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start node");
        await process.StandardInput.WriteAsync(JsonSerializer.Serialize(input));
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        var text = await stdout;
        if (text.Length == 0) throw new InvalidOperationException($"node lk.js {command} printed nothing; stderr: {await stderr}");
        using var doc = JsonDocument.Parse(text);
        return (process.ExitCode == 0, doc.RootElement.Clone());
    }
}

public sealed class NodeToolException(string command, string error) : Exception($"node lk.js {command}: {error}")
{
    public string Error { get; } = error;
}
