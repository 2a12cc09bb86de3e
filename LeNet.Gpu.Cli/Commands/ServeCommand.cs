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
        var command = new Command("serve", "A local web page: draw a digit, see the prediction and every layer's feature maps")
        {
            port, model, device,
        };
        command.SetAction(parse => Common.Run(() =>
        {
            int portNumber = parse.GetValue(port);
            if (portNumber is < 0 or > 65535) throw new UsageException($"--port must be 0 to 65535, got {portNumber}");
            var deviceKind = Common.ParseDevice(parse.GetValue(device)!);
            string modelName = parse.GetValue(model)!;
            var network = ShippedModels.Resolve(modelName);
            var classNames = Provenance.ClassNames(network.Metadata);
            // A path is shown by its file name: the page is no place for the user's directory layout.
            string shown = File.Exists(modelName) ? Path.GetFileName(modelName) : modelName;

            using var worker = new InferenceWorker(network, deviceKind);
            var app = WebServer.Build(worker, new ServedModel(shown, classNames, network.Metadata), portNumber);
            try
            {
                app.StartAsync().GetAwaiter().GetResult();
                Console.Out.WriteLine($"Serving {shown} on {worker.Device} at {WebServer.Url(app)} (Ctrl+C stops)");
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
}
