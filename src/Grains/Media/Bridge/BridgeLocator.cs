namespace VoiceActors.Media.Bridge;

/// <summary>
/// Finds Node and the bridge script without starting anything. The script is not copied into build outputs (its
/// node_modules carry a 25 MB native library): it is found in the repository above the silo's output, or configured.
/// </summary>
public static class BridgeLocator
{
    public const string RelativeScript = "media/bridge/index.js";

    public static BridgeLaunch? Resolve(MediaBridgeOptions options, string baseDirectory, out string whyNot)
    {
        var node = FindExecutable(options.NodePath);
        if (node is null)
        {
            whyNot = $"Node ({options.NodePath}) was not found on PATH; install Node 20 or set MediaBridge:NodePath";
            return null;
        }
        var script = FindScript(options.ScriptPath, baseDirectory);
        if (script is null)
        {
            whyNot = string.IsNullOrWhiteSpace(options.ScriptPath)
                ? $"the bridge script {RelativeScript} was found neither next to {baseDirectory} nor in a src/ folder above it; set MediaBridge:ScriptPath"
                : $"MediaBridge:ScriptPath {options.ScriptPath} does not exist";
            return null;
        }
        var modules = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(script)!)!, "node_modules", "@livekit", "rtc-node");
        if (!options.FakeRooms && !Directory.Exists(modules))
        {
            whyNot = $"{modules} is missing; run `npm ci` in {Path.GetDirectoryName(Path.GetDirectoryName(script))}";
            return null;
        }
        whyNot = "";
        return new BridgeLaunch(node, script);
    }

    public static string? FindScript(string? configured, string baseDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configured)) return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        var beside = Path.Combine(baseDirectory, RelativeScript);
        if (File.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(baseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", RelativeScript);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public static string? FindExecutable(string name)
    {
        if (name.Contains(Path.DirectorySeparatorChar) || Path.IsPathRooted(name)) return File.Exists(name) ? name : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
