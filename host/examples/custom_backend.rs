//! A custom backend: plugins from a directory plus one plugin linked in.

use greenroom_host::Backend;
use greenroom_sdk::{PluginRegistrar, RegisterError};

fn main() -> Result<(), greenroom_host::BackendError> {
    let backend = Backend::new()
        .plugins_dir("plugins")
        .add_static("greeter", || {
            greenroom_sdk::register(&[("greeter", "1.0.0", greeter)], &[])
        })
        .start()?;
    for report in backend.reports() {
        eprintln!("{}", report.status_line());
    }
    backend.stop();
    Ok(())
}

fn greeter(plugin: &mut PluginRegistrar) -> Result<(), RegisterError> {
    plugin.depends_on_service("core.logger", "^1");
    Ok(())
}
