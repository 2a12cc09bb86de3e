using System.CommandLine;
using LeNet.Gpu.Cli.Web;
using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace LeNet.Gpu.Cli.Commands;

public static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port")
        {
            Description = "port on 127.0.0.1 (default: a free port, printed as a URL)",
            DefaultValueFactory = _ => 0,
        };
        var model = Common.Model();
        var device = Common.Device();
        var keepAlive = new Option<double>("--keep-alive-timeout")
        {
            Description = "seconds an idle connection is kept open between requests",
            DefaultValueFactory = _ => ConnectionLimits.Default.KeepAlive.TotalSeconds,
        };
        var headersTimeout = new Option<double>("--headers-timeout")
        {
            Description = "seconds a client has to send a request's headers",
            DefaultValueFactory = _ => ConnectionLimits.Default.RequestHeaders.TotalSeconds,
        };
        var command = new Command("serve", "A local web page: draw a digit, see the prediction and every layer's feature maps")
        {
            port, model, device, keepAlive, headersTimeout,
        };
        command.SetAction(parse => Common.Run(() =>
        {
            int portNumber = parse.GetValue(port);
            if (portNumber is < 0 or > 65535) throw new UsageException($"--port must be 0 to 65535, got {portNumber}");
            var limits = new ConnectionLimits(Seconds(keepAlive.Name, parse.GetValue(keepAlive)), Seconds(headersTimeout.Name, parse.GetValue(headersTimeout)));
            var deviceKind = Common.ParseDevice(parse.GetValue(device)!);
            string modelName = parse.GetValue(model)!;
            var network = ShippedModels.Resolve(modelName);
            var classNames = Provenance.ClassNames(network.Metadata);
            // A path is shown by its file name: the page is no place for the user's directory layout.
            string shown = File.Exists(modelName) ? Path.GetFileName(modelName) : modelName;

            using var worker = new InferenceWorker(network, deviceKind);
            var app = WebServer.Build(worker, new ServedModel(shown, classNames, network.Metadata), portNumber, limits);
            try
            {
                app.StartAsync().GetAwaiter().GetResult();
                Console.Out.WriteLine($"Serving {Common.Shown(shown)} on {worker.Device} at {WebServer.Url(app)} (Ctrl+C stops)");
                app.WaitForShutdownAsync().GetAwaiter().GetResult();
            }
            finally
            {
                ((IAsyncDisposable)app).DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static TimeSpan Seconds(string option, double seconds) => seconds is > 0 and <= 3600
        ? TimeSpan.FromSeconds(seconds)
        : throw new UsageException($"{option} must be more than 0 and at most 3600 seconds, got {seconds}");
}
