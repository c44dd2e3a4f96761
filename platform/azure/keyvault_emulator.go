package azure

// EmulatorKeyVaultAPIVersion is the Key Vault api-version sent to the Key Vault
// emulator of docker-compose (KEYVAULT_AUTH=emulator). azsecrets v1.5.1 sends
// 2026-04-01 by default, which Lowkey Vault 2.7.0, the version docker-compose.yaml
// pins, does not route: its newest supported api-version is 7.5
// (https://github.com/nagyesta/lowkey-vault, README "Features"/supported API
// versions at 2.7.0). Every secrets operation the app and emuseed use exists in 7.5
// with the same request and response shapes. Change it together with the image tag.
const EmulatorKeyVaultAPIVersion = "7.5"
