// The ready smtp-intercept plugin: settings in config/smtp-intercept.ini.
Object.assign(exports, require('smtp-intercept/haraka').createHarakaPlugin())
