export declare const api: any;
export declare const internal: any;
